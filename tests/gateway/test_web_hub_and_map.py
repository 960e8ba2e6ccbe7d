# ruff: noqa: F811 - the dataset page's fixtures are imported, and pytest hands them to the tests by name
"""The datasets hub (``/``) and the cache map (``/sites``) against the real catalog, cacher and
evictor behind the gateway, read by browsers signed in over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lakecache.gateway.auth import Role
from lakecache.gateway.repositories import SiteVolumeRepository
from lakecache.gateway.web import hub
from tests.gateway.calls import call_json
from tests.gateway.conftest import TEAM_A, TEAM_B, make_user
from tests.gateway.stack import SITE, VOLUME
from tests.gateway.test_web_dataset import cats, gateway, session  # noqa: F401
from tests.support.waiting import eventually


async def html_of(gateway, path: str, headers: dict[str, str], status: int = 200) -> str:
    async with gateway.get(path, headers=headers, allow_redirects=False) as answer:
        body = await answer.text()
        assert answer.status == status, body[:500]
        return body


def copy_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="copy state-[^"]*" data-copy="([^"]+)"', html)


async def test_the_hub_lists_the_projects_datasets_with_size_and_search(gateway, people, cats):
    alice, bob = people["alice"], people["bob"]
    status, _ = await call_json(gateway, "POST", "/api/v1/datasets", bob, json={"project": TEAM_B, "name": "audio"})
    assert status == 201
    seen = await html_of(gateway, "/", await session(gateway, alice))
    assert f'href="/datasets/{TEAM_A}/cats"' in seen and "audio" not in seen  # only her projects
    assert cats["second"]["id"][:12] in seen and "3.6 KiB" in seen and "5 files" in seen  # the head and its size
    assert "&lt;script&gt;" in seen and "<script>alert" not in seen
    assert "nowhere" in seen
    assert f"/datasets/{TEAM_A}/cats" not in await html_of(gateway, "/?q=dogs-only", await session(gateway, alice))
    everyone = await html_of(gateway, "/", await session(gateway, people["root"]))  # an installation administrator
    assert f"/datasets/{TEAM_A}/cats" in everyone and f"/datasets/{TEAM_B}/audio" in everyone


async def test_all_projects_show_a_few_datasets_each_and_link_to_the_projects_own_list(gateway, people, cats,
                                                                                          monkeypatch):
    monkeypatch.setattr(hub, "SHOWN_EACH", 1)
    alice = people["alice"]
    status, _ = await call_json(gateway, "POST", "/api/v1/datasets", alice, json={"project": TEAM_A, "name": "dogs"})
    assert status == 201
    headers = await session(gateway, alice)
    seen = await html_of(gateway, "/", headers)
    assert len(re.findall(rf'<a href="/datasets/{TEAM_A}/', seen)) == 1
    assert f'<a href="/?project={TEAM_A}">show more of {TEAM_A}</a>' in seen
    chosen = await html_of(gateway, f"/?project={TEAM_A}", headers)
    assert f'href="/datasets/{TEAM_A}/cats"' in chosen and f'href="/datasets/{TEAM_A}/dogs"' in chosen
    assert "show more" not in chosen
    searched = await html_of(gateway, "/?q=o", headers)  # matches both (dogs, and cats by its description)
    assert f'<a href="/?project={TEAM_A}&amp;q=o">show more of {TEAM_A}</a>' in searched


async def test_the_cache_map_shows_volumes_copies_and_controls_by_role(gateway, auth, store, people, cats):
    alice = people["alice"]
    await SiteVolumeRepository(store).report(site=SITE, volume=VOLUME, at=datetime.now(UTC),
                                             fields={"capacity_bytes": 10 * 2**30, "used_bytes": 2**30})
    status, accepted = await call_json(gateway, "POST", "/api/v1/caches", alice,
                                       json={"project": TEAM_A, "dataset": "cats", "ref": "latest", "site": SITE})
    assert status == 202, accepted
    commit_id = cats["second"]["id"]
    editor = await session(gateway, alice)

    async def ready_with_facts() -> bool:
        seen = await html_of(gateway, "/sites", editor)
        return 'badge state-ready">ready' in seen and "TTL left" in seen and "kept:" in seen

    await eventually(ready_with_facts, timeout=60, message="the copy to show ready with the evictor's verdict")
    seen = await html_of(gateway, "/sites", editor)
    assert f"Site {SITE}" in seen and f"Volume {VOLUME}" in seen
    assert '<svg class="capacity"' in seen and 'class="mark high"' in seen  # the capacity bar and its watermarks
    assert copy_rows(seen) == [f"{TEAM_A}/{commit_id}"]
    assert "Evict</button>" in seen and 'id="request-form"' in seen  # an editor requests and evicts…
    assert ">Pin</button>" not in seen  # …but pinning is for project administrators

    viewer = await make_user(auth, "vic", {TEAM_A: Role.VIEWER})
    viewed = await html_of(gateway, "/sites", await session(gateway, viewer))
    assert copy_rows(viewed) == [f"{TEAM_A}/{commit_id}"]
    assert "data-api-method" not in viewed and 'id="request-form"' not in viewed

    outsider = await html_of(gateway, "/sites", await session(gateway, people["bob"]))
    assert f"Volume {VOLUME}" in outsider and copy_rows(outsider) == []  # the volume, not another project's copy
    assert commit_id[:12] not in outsider
