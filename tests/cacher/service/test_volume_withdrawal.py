"""A volume the cacher refuses at start is announced withdrawn, never reported, until it is fixed:
reported, the evictor would decide evictions there (which delete nothing on disk) and the
gateway would offer it as usable."""

from __future__ import annotations

from lakecache.cacher import volumes
from lakecache.core.contracts.cache import VolumeReported, VolumeWithdrawn
from tests.cacher.service.conftest import cacher_settings, running_cacher
from tests.support.waiting import eventually

BASE = "/api/v1/sites/dgx/volumes"


def reports(api, volume: str) -> list:
    return [e.data for e in api.of(VolumeReported) if e.data.volume == volume]


def withdrawals(api, volume: str) -> list:
    return [e.data for e in api.of(VolumeWithdrawn) if e.data.volume == volume]


async def test_a_volume_refused_at_start_is_withdrawn_instead_of_reported_until_it_is_fixed(tmp_path, volume):
    settings = cacher_settings(tmp_path / "home", volume)
    second = tmp_path / "nfs2"
    second.mkdir(mode=0o755)
    async with running_cacher(settings) as api:
        reply = await api.call("POST", BASE, json_body={"name": "nfs2", "path": str(second)})
        assert reply.status == 201, reply.body

    second.chmod(0o777)  # others may write it now: the volume rules refuse it at the next start
    try:
        async with running_cacher(settings) as api:
            await eventually(lambda: withdrawals(api, "nfs2"), message="cache.volume.withdrawn of nfs2 at start")
            [withdrawn] = withdrawals(api, "nfs2")
            assert withdrawn.site == "dgx" and "may be written by other users" in withdrawn.reason
            assert (await api.call("GET", f"{BASE}/nfs2")).body["refused"] == withdrawn.reason

            # The next round of reports withdraws it again (and still reports the sound volume);
            # nfs1 comes before nfs2 in a round, and one site's cache events stay in order.
            await volumes.report_all(api.cacher)
            await eventually(lambda: len(withdrawals(api, "nfs2")) == 2, message="nfs2 withdrawn again")
            assert len(reports(api, "nfs1")) >= 2
            assert reports(api, "nfs2") == []
            assert withdrawals(api, "nfs1") == []
    finally:
        second.chmod(0o755)

    async with running_cacher(settings) as api:  # fixed: reported again, as a usable volume is
        await eventually(lambda: reports(api, "nfs2"), message="cache.volume.reported of the fixed nfs2")
        assert withdrawals(api, "nfs2") == []
        assert (await api.call("GET", f"{BASE}/nfs2")).body["refused"] is None
