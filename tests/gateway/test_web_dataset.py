"""The dataset page (``/datasets/{project}/{name}``) against the real catalog, cacher and evictor
behind the gateway, read by browsers signed in over HTTP with their session cookie."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from lakecache.gateway.auth import Role
from lakecache.gateway.repositories import SiteVolumeRepository
from lakecache.gateway.web import dataset as dataset_page
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.gateway.calls import call_json
from tests.gateway.conftest import TEAM_A, make_user
from tests.gateway.stack import SITE, VOLUME
from tests.gateway.test_sessions import session_of, sign_in
from tests.support.waiting import eventually

HTML = {"Accept": "text/html"}
PAGE = f"/datasets/{TEAM_A}/cats"
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'


@pytest.fixture
async def gateway(gateway):
    """The gateway's client without a cookie jar: each request sends exactly the session it names."""
    gateway.session._cookie_jar = aiohttp.DummyCookieJar()  # noqa: SLF001 - the test client offers no other way
    return gateway


def write(root: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


async def sync(gateway, who, tmp_path: Path, data: Path, message: str) -> dict:
    settings = ClientSettings(api_url=str(gateway.make_url("")).rstrip("/"), token=who.token,
                              cache_dir=tmp_path / "client-cache", home=tmp_path / "no-home")
    async with CatalogClient(settings) as lakecache:
        return (await sync_directory(lakecache, DatasetRef(TEAM_A, "cats"), data, message=message)).commit


@pytest.fixture
async def cats(gateway, people, tmp_path) -> dict:
    """vision/cats with a hostile description, two commits and tag v1 on the first:
    the second changes labels.csv, removes readme.md and adds train/dog/2.bin."""
    alice = people["alice"]
    status, made = await call_json(gateway, "POST", "/api/v1/datasets", alice,
                                   json={"project": TEAM_A, "name": "cats", "description": HOSTILE,
                                         "tags": ["images", "pets"]})
    assert status == 201, made
    data = write(tmp_path / "cats", {"train/cat/1.bin": b"a" * 1000, "train/cat/2.bin": b"b" * 2000,
                                     "train/dog/1.bin": b"c" * 300, "labels.csv": b"cat,1\n",
                                     "readme.md": b"cats"})
    first = await sync(gateway, alice, tmp_path, data, "first cats")
    (data / "readme.md").unlink()
    write(data, {"labels.csv": b"cat,1\ndog,2\n", "train/dog/2.bin": b"d" * 400})
    second = await sync(gateway, alice, tmp_path, data, "more dogs")
    status, tag = await call_json(gateway, "PUT", f"/api/v1/datasets/{TEAM_A}/cats/tags/v1", alice,
                                  json={"ref": first["id"]})
    assert status == 201, tag
    return {"first": first, "second": second}


async def session(gateway, who) -> dict[str, str]:
    status, headers, _ = await sign_in(gateway, who.token)
    assert status == 303
    return {**HTML, "Cookie": f"lakecache_session={session_of(headers)}"}


async def page(gateway, headers, path: str = PAGE, *, status: int = 200) -> str:
    async with gateway.get(path, headers=headers, allow_redirects=False) as answer:
        text = await answer.text()
        assert answer.status == status, text
        return text


def section(text: str, element_id: str) -> str:
    """The element with ``element_id`` (a table or paragraph), as text."""
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', text, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(2)


def rows(table: str, cls: str | None = None) -> list[list[str]]:
    """The table's body rows (only those of ``cls``), as the text of their cells."""
    found = []
    for attributes, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", table, re.S):
        if "<th" in row or (cls and f'class="{cls}' not in attributes):
            continue
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        found.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return found


async def test_the_commits_show_newest_first_with_their_tags_sizes_and_authors(gateway, people, cats):
    text = await page(gateway, await session(gateway, people["alice"]))
    log = rows(section(text, "commit-log"))
    assert [r[1] for r in log] == ["more dogs", "first cats"]
    assert log[0][0] == cats["second"]["id"][:12] and log[1][0] == f"{cats['first']['id'][:12]} v1"
    assert [r[2] for r in log] == ["user:alice", "user:alice"]
    assert [r[4] for r in log] == ["5", "5"]  # files
    assert log[1][5] == "3.2 KiB" and cats["first"]["bytes"] == 1000 + 2000 + 300 + 6 + 4
    _, shown = await call_json(gateway, "GET", f"/api/v1/datasets/{TEAM_A}/cats", people["alice"])
    assert f"<dt>Lake location</dt><dd><code>{html.escape(shown['lake_url'])}</code></dd>" in text
    assert "<dt>Owner</dt><dd>user:alice</dd>" in text
    assert '<span class="tag">images</span> <span class="tag">pets</span>' in text
    assert f'href="{PAGE}?from={cats["first"]["id"]}&amp;to={cats["second"]["id"]}#diff"' in text


async def test_the_diff_shows_exactly_what_was_added_changed_and_removed(gateway, people, cats):
    headers = await session(gateway, people["alice"])
    text = await page(gateway, headers, f"{PAGE}?from=v1&to=latest")
    changes = rows(section(text, "diff-list"))
    assert changes == [["changed", "labels.csv", "6 B", "12 B"], ["removed", "readme.md", "4 B", "–"],
                       ["added", "train/dog/2.bin", "–", "400 B"]]
    assert "1 added, 1 changed, 1 removed" in section(text, "diff-summary")

    same = await page(gateway, headers, f"{PAGE}?from=v1&to=v1")
    assert "0 added, 0 changed, 0 removed" in same and 'id="diff-list"' not in same
    unknown = await page(gateway, headers, f"{PAGE}?from=v9&to=latest")  # the rest of the page still shows
    assert "v9" in section(unknown, "diff-error") and 'id="commit-log"' in unknown


async def test_a_long_diff_is_paged(gateway, people, cats, monkeypatch):
    monkeypatch.setattr(dataset_page, "DIFF_SHOWN", 2)
    headers = await session(gateway, people["alice"])
    text = await page(gateway, headers, f"{PAGE}?from=v1&to=latest")
    assert [r[1] for r in rows(section(text, "diff-list"))] == ["labels.csv", "readme.md"]
    more = html.unescape(re.search(r'href="([^"]+)">More changes', text).group(1))
    rest = await page(gateway, headers, more)
    assert [r[1] for r in rows(section(rest, "diff-list"))] == ["train/dog/2.bin"]
    assert "More changes" not in rest


async def test_the_file_browser_lists_a_prefix_children_with_sizes_and_crumbs(gateway, people, cats):
    headers = await session(gateway, people["alice"])
    top = await page(gateway, headers, f"{PAGE}?ref=v1")
    listing = section(top, "file-list")
    assert rows(listing, "directory") == [["train/", "3.2 KiB", "3"]]
    assert rows(listing, "file") == [["labels.csv", "6 B", "1"], ["readme.md", "4 B", "1"]]

    train = await page(gateway, headers, f"{PAGE}?ref=latest&prefix=train/")
    listing = section(train, "file-list")
    assert rows(listing, "directory") == [["cat/", "2.9 KiB", "2"], ["dog/", "700 B", "2"]]
    assert rows(listing, "file") == []
    assert f'href="{PAGE}?ref=latest&amp;prefix=train%2Fdog%2F#files"' in listing
    dog = await page(gateway, headers, f"{PAGE}?ref=latest&prefix=train/dog/")
    assert rows(section(dog, "file-list"), "file") == [["1.bin", "300 B", "1"], ["2.bin", "400 B", "1"]]
    crumbs = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', dog, re.S).group(1)
    assert f'href="{PAGE}?ref=latest#files">(root)</a>' in crumbs
    assert f'href="{PAGE}?ref=latest&amp;prefix=train%2F#files">train/</a>' in crumbs
    assert '<span aria-current="location">dog/</span>' in crumbs
    old = await page(gateway, headers, f"{PAGE}?ref=v1&prefix=train/dog/")
    assert rows(section(old, "file-list"), "file") == [["1.bin", "300 B", "1"]]


async def test_the_file_browser_pages_past_whole_directories(gateway, people, cats, monkeypatch):
    monkeypatch.setattr(dataset_page, "FILES_SHOWN", 1)
    headers = await session(gateway, people["alice"])
    text = await page(gateway, headers, f"{PAGE}?prefix=train/")
    assert rows(section(text, "file-list"), "directory") == [["cat/", "2.9 KiB", "2"]]
    more = html.unescape(re.search(r'href="([^"]+)">More files', text).group(1))
    rest = await page(gateway, headers, more)
    assert rows(section(rest, "file-list"), "directory") == [["dog/", "700 B", "2"]]
    assert "More files" not in rest


async def test_each_commit_shows_where_it_is_cached(gateway, people, cats):
    alice = people["alice"]
    status, accepted = await call_json(gateway, "POST", "/api/v1/caches", alice,
                                       json={"project": TEAM_A, "dataset": "cats", "ref": "v1", "site": SITE})
    assert status == 202, accepted
    headers = await session(gateway, alice)

    async def first_cached_ready() -> bool:
        log = rows(section(await page(gateway, headers), "commit-log"))
        return log[1][6] == f"{SITE}: ready"

    await eventually(first_cached_ready, timeout=60, message="the first commit to show as ready at the site")
    log = rows(section(await page(gateway, headers), "commit-log"))
    assert log[0][6] == "nowhere"


async def test_a_viewer_sees_no_mutating_controls_and_an_editor_does(gateway, auth, store, people, cats):
    # The cacher's periodic volume report (its first went out before the gateway listened).
    await SiteVolumeRepository(store).report(site=SITE, volume=VOLUME, at=datetime.now(UTC),
                                             fields={"capacity_bytes": 10**12, "used_bytes": 0})
    viewer = await make_user(auth, "vic", {TEAM_A: Role.VIEWER})
    seen = await page(gateway, await session(gateway, viewer))
    assert 'id="commit-log"' in seen
    assert "data-api-method" not in seen and 'id="cache-form"' not in seen and 'id="tag-form"' not in seen

    edited = await page(gateway, await session(gateway, people["alice"]))
    cache = re.search(r'<form[^>]* id="cache-form"[^>]*>', edited).group(0)
    assert 'data-api-method="POST"' in cache and 'data-api-path="/api/v1/caches"' in cache
    assert f'<option>{SITE}</option>' in edited
    tag = re.search(r'<form[^>]* id="tag-form"[^>]*>', edited).group(0)
    assert 'data-api-method="PUT"' in tag and f'data-api-path="/api/v1/datasets/{TEAM_A}/cats/tags/{{tag}}"' in tag


async def test_a_viewer_of_another_project_is_refused_and_an_anonymous_browser_signs_in(gateway, people, cats):
    outsider = html.unescape(await page(gateway, await session(gateway, people["bob"]), status=403))
    assert "first cats" not in outsider and "has no role in project 'vision'" in outsider
    async with gateway.get(PAGE, headers=HTML, allow_redirects=False) as anonymous:
        assert anonymous.status in (302, 303)
        assert anonymous.headers["Location"].startswith("/login")
    await page(gateway, await session(gateway, people["alice"]), f"/datasets/{TEAM_A}/dogs", status=404)


async def test_a_hostile_description_is_shown_as_text(gateway, people, cats):
    text = await page(gateway, await session(gateway, people["alice"]))
    assert '<script>alert("owned")</script>' not in text and "<b>bold</b>" not in text
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert [s for s in re.findall(r"<script[^>]*>", text)] == ['<script src="/static/app.js" defer>']


async def test_a_dataset_without_commits_says_how_to_add_one(gateway, people):
    alice = people["alice"]
    status, _ = await call_json(gateway, "POST", "/api/v1/datasets", alice, json={"project": TEAM_A, "name": "cats"})
    assert status == 201
    text = await page(gateway, await session(gateway, alice))
    assert f"lakecache sync DIR {TEAM_A}/cats" in text and "No commit yet, so no files." in text
    assert 'id="tag-form"' not in text
