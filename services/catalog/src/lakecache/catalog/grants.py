"""Source grants: the catalog's signed word, for one cache request, on where a commit's bytes are.

The gateway asks for one as the requester (``caches:request`` in the dataset's project) and
puts it in the ``cache.requested`` command; the cacher verifies it and reads nothing else
(``lakecache.core.identity.grants``). The grant names the dataset's location and the import
locations registered for the project now, and the commit's parents, so the cacher can check the
manifest it reads against the commit id.
"""

from __future__ import annotations

from typing import Any

from lakecache.catalog import imports
from lakecache.catalog.storage import Catalog
from lakecache.core.errors import ConfigurationError
from lakecache.core.identity.grants import SourceGrant, mint_grant


async def source_grant(catalog: Catalog, dataset: dict[str, Any], commit: dict[str, Any]) -> str:
    if catalog.signing_key is None:
        raise ConfigurationError("this catalog has no signing key, so it cannot grant cache requests")
    grant = SourceGrant(project=dataset["project"], dataset=dataset["name"], dataset_id=dataset["_id"],
                        commit_id=commit["id"], parents=list(commit["parents"]), location=dataset["lake_url"],
                        imports=await imports.location_urls(catalog, dataset["project"]))
    return mint_grant(catalog.signing_key, grant, ttl_seconds=catalog.grant_ttl_seconds)
