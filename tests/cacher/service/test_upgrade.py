"""A cacher store from before copies were per project is refused at start, saying what to do."""

from __future__ import annotations

import uuid

import pytest

from lakecache.cacher.bootstrap import SERVICE
from lakecache.core.adapters.registry import document_store_from_url
from lakecache.core.errors import ConfigurationError
from lakecache.core.runtime import start_service


async def test_a_store_with_copies_keyed_by_commit_alone_is_refused_at_start(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    store_url = f"sqlite:///{home / 'cacher.db'}"
    async with document_store_from_url(store_url) as store:  # what an earlier version left
        await store.collection("copies").insert_one({"_id": f"dgx/nfs1/{'c' * 64}", "site": "dgx", "volume": "nfs1",
                                                     "project": "vision", "commit_id": "c" * 64, "state": "ready"})
    settings = SERVICE.settings_type(home=home, bus_url=f"memory://upgrade-{uuid.uuid4().hex[:6]}",
                                     cacher={"port": 0, "site": "dgx"})

    with pytest.raises(ConfigurationError) as refused:
        async with start_service(SERVICE, settings):
            pass

    assert "recorded before copies were per project" in str(refused.value)
    assert "new store" in str(refused.value) and "Upgrading" in str(refused.value)
