"""``CatalogClient``: the name code written before ``GatewayClient`` existed uses for it.

The dataset-side calls (datasets, commits, uploads, imports, import locations) are
``GatewayClient``'s own (``lakecache.sdk.datasets``): the catalog is reached only through the
gateway, with the same session, token and errors as every other call, so a second client would
only repeat them. New code uses ``lakecache.sdk.gateway.GatewayClient``.
"""

from __future__ import annotations

from lakecache.sdk.datasets import MAX_UPLOAD_BATCH, ndjson_lines
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.http import API

__all__ = ["API", "MAX_UPLOAD_BATCH", "CatalogClient", "ndjson_lines"]

#: The same class as ``GatewayClient``.
CatalogClient = GatewayClient
