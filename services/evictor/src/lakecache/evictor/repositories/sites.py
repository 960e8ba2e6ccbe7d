"""The ``evictor_sites`` collection: each site's policy state, the document-store adapter of the
site-store port (``lakecache.evictor.site_store``)."""

from __future__ import annotations

import json

from lakecache.core.ports.docstore import DocumentStore
from lakecache.evictor.site_store import SiteStore, State

COLLECTION = "evictor_sites"


class DocumentSiteStore(SiteStore):
    """Each site's state as one document, ``{"_id": site, "state_json": "<the state as JSON>"}``.

    The state is kept as text, not as a nested document: its keys include whatever target an
    administrator gave a TTL override, and a document store refuses keys with ``.`` or a leading
    ``$`` (the override would be accepted and then never saved). Nothing queries inside a state,
    so the text costs nothing but one encoding.
    """

    def __init__(self, store: DocumentStore) -> None:
        self._sites = store.collection(COLLECTION)

    async def load(self, site: str) -> State | None:
        doc = await self._sites.find_one({"_id": site})
        if doc is None:
            return None
        if "state_json" in doc:
            return json.loads(doc["state_json"])
        # Saved as a nested document by earlier versions; the next save rewrites it as text.
        return doc["state"]

    async def save(self, site: str, state: State) -> None:
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        await self._sites.replace_one({"_id": site}, {"_id": site, "state_json": text}, upsert=True)

    async def sites(self) -> list[str]:
        # Ids only: a site's state can be large, and the clock asks for the list on every tick.
        return [doc["_id"] for doc in await self._sites.find_list({}, sort=[("_id", 1)], projection={"_id": 1})]
