"""The API reference: ``/api/v1/openapi.json`` and its HTML rendering ``/api/v1/docs``, both public.

Both are produced once, when the app is set up, from the registry the app routes with; the
handlers only send the stored bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from lakecache.gateway.api.common import API
from lakecache.gateway.auth import PUBLIC
from lakecache.gateway.http.docs_page import render_docs
from lakecache.gateway.http.operation import Operation

OPENAPI_PATH = f"{API}/openapi.json"
DOCS_PATH = f"{API}/docs"


@dataclass(frozen=True)
class Reference:
    document: dict[str, Any]
    json: bytes
    html: str

    @classmethod
    def of(cls, document: dict[str, Any]) -> Reference:
        return cls(document, json.dumps(document, indent=1).encode(), render_docs(document, openapi_url=OPENAPI_PATH))


REFERENCE_KEY = web.AppKey("lakecache_reference", Reference)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[REFERENCE_KEY].json, content_type="application/json")


async def api_docs(request: web.Request) -> web.Response:
    return web.Response(text=request.app[REFERENCE_KEY].html, content_type="text/html")


OPERATIONS = [
    Operation("GET", OPENAPI_PATH, openapi_json, "The OpenAPI document", PUBLIC, tag="reference",
              raw_schema={"type": "object"}, description="This API as OpenAPI 3.1, generated from the models the "
                                                         "gateway validates requests with."),
    Operation("GET", DOCS_PATH, api_docs, "The API reference page", PUBLIC, tag="reference", media_type="text/html",
              raw_schema={"type": "string"}, description="The OpenAPI document as a plain HTML page."),
]
