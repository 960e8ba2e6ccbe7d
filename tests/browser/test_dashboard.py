"""The dashboard in headless Chromium against the whole stack served over HTTP: signing in and out,
the datasets hub, the cache map following a fill live and evicting, what a viewer sees, CSRF on a
forged change, keyboard access, and the README's screenshots.

Data is made the way people make it: an administrator creates users through the gateway API,
datasets are synced with the SDK, copies are requested and leased through the API, and the
stack's cacher fills a real volume. Project ``vision`` holds the pictured data and is only read
by the tests; tests that change something do it in project ``sandbox``.
"""

from __future__ import annotations

import asyncio
import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.wait import WebDriverWait

from lakecache.core.adapters.objects import local as local_objects
from lakecache.gateway.auth.sessions import COOKIE
from lakecache.gateway.web.format import size
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.runs import metric_json
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.sync import sync_directory
from tests.browser.driver import (
    WAIT_SECONDS,
    wait_clickable,
    wait_loaded,
    wait_text,
    wait_until,
    wait_visible,
)
from tests.support.stack import STACK_SITE, STACK_VOLUME, Stack, create_user, gateway_call
from tests.support.waiting import eventually

PROJECT, SANDBOX = "vision", "sandbox"
API = "/api/v1"

#: The pictured project's datasets: fixed names, descriptions and files, so that the screenshots
#: change only when the pages do (commit ids and relative times still differ from run to run).
DATASETS = {
    "chest-xray": ("Synthetic chest x-rays, two classes", ["images", "medical"],
                   [{"normal/0001.png": b"n1" * 900, "normal/0002.png": b"n2" * 700, "pneumonia/0001.png": b"p1" * 800},
                    {"normal/0001.png": b"n1" * 900, "normal/0002.png": b"n2" * 750, "pneumonia/0001.png": b"p1" * 800,
                     "pneumonia/0002.png": b"p2" * 600}]),
    "coco-captions": ("Image captions, validation split", ["text"], [{"captions/val.jsonl": b'{"id": 1}\n' * 400}]),
    "mnist-small": ("Handwritten digits, 1,000 samples", ["images", "benchmark"], [{"train.npz": b"m" * 4000}]),
}
#: The sandbox's datasets, changed by the tests.
SANDBOX_DATASETS = {"hub-badge": {"a.txt": b"badge " * 50}, "fill-live": {f"part-{i}.bin": b"live %d " % i * 300
                                                                          for i in range(3)}}
LEASE_HOLDER = "train-resnet50 #42"


@dataclass(frozen=True)
class World:
    """Tokens of the people (``ada`` administers ``vision``, ``vic`` views it, ``eve`` edits the
    sandbox, ``sam`` views the sandbox) and the commit ids of each dataset, oldest first."""

    stack: Stack
    tokens: dict[str, str]
    commits: dict[str, list[str]]

    @property
    def base(self) -> str:
        return self.stack.base_url.rstrip("/")


async def _seed(stack: Stack, tokens: dict[str, str], scratch: Path) -> dict[str, list[str]]:
    commits: dict[str, list[str]] = {}

    async def sync(token: str, project: str, name: str, versions: list[dict[str, bytes]],
                   description: str | None = None, tags: list[str] | None = None) -> None:
        settings = ClientSettings(api_url=stack.base_url, token=token, home=scratch / "client-home",
                                  cache_dir=scratch / "client-cache")
        async with GatewayClient(settings) as gateway:
            await gateway.create_dataset(project, name, description=description, tags=tags)
            for number, files in enumerate(versions, 1):
                root = scratch / project / name / f"v{number}"
                for relative, data in files.items():
                    (root / relative).parent.mkdir(parents=True, exist_ok=True)
                    (root / relative).write_bytes(data)
                result = await sync_directory(gateway, DatasetRef(project, name), root, message=f"version {number}",
                                              use_hash_cache=False)
                commits.setdefault(f"{project}/{name}", []).append(result.commit["id"])

    for name, (description, tags, versions) in DATASETS.items():
        await sync(tokens["ada"], PROJECT, name, versions, description, tags)
    for name, files in SANDBOX_DATASETS.items():
        await sync(tokens["eve"], SANDBOX, name, [files], f"Sandbox data for the {name} test")

    xray_v1, xray = commits[f"{PROJECT}/chest-xray"]
    gateway_call(stack.base_url, tokens["ada"], "PUT", f"{API}/datasets/{PROJECT}/chest-xray/tags/v1", {"ref": xray_v1})
    await _seed_runs(stack, tokens["ada"], scratch, xray)

    # Two pictured copies, ready on the volume; the x-rays leased by a job.
    for name in ("chest-xray", "coco-captions"):
        await cache_ready(stack, tokens["ada"], PROJECT, name, commits[f"{PROJECT}/{name}"][-1])
    gateway_call(stack.base_url, tokens["ada"], "POST", f"{API}/projects/{PROJECT}/sites/{STACK_SITE}/copies/{xray}"
                 "/leases", {"holder": LEASE_HOLDER, "ttl_seconds": 6 * 3600})
    await eventually(lambda: _live_holders(stack, PROJECT, xray) == [LEASE_HOLDER],
                     message="the evictor to see the lease")
    return commits


#: The pictured runs: one experiment, three learning rates, fixed times and curves.
EXPERIMENT = "resnet-baseline"
RUNS = {"resnet50-lr0.1": 0.1, "resnet50-lr0.01": 0.01, "resnet50-lr0.001": 0.001}
RUN_STEPS = 40
RUNS_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _seed_runs(stack: Stack, token: str, scratch: Path, xray: str) -> None:
    """Three finished runs that read the x-rays' latest commit from the cache and wrote a model
    each, with loss and accuracy curves (deterministic: a run's pixels are the same every time)."""
    settings = ClientSettings(api_url=stack.base_url, token=token, home=scratch / "client-home",
                              cache_dir=scratch / "client-cache")
    async with GatewayClient(settings) as gateway:
        experiment = await gateway.create_experiment(PROJECT, EXPERIMENT, tags={"team": "imaging"})
        for number, (name, lr) in enumerate(RUNS.items()):
            start = RUNS_START + timedelta(hours=2 * number)
            run = await gateway.start_run(PROJECT, experiment["id"], name=name, params={"lr": lr, "batch_size": 64,
                                          "epochs": RUN_STEPS}, tags={"model": "resnet50"}, code_version="4f2c9e1",
                                          code_dirty=False, host="dgx-a100-03", site=STACK_SITE, start_time=start)
            await gateway.record_input(PROJECT, run["id"], "chest-xray", xray, site=STACK_SITE, volume=STACK_VOLUME,
                                       cache_hit=True, bytes_read=6144, waited_seconds=0.0, context="training")
            speed = {0.1: 0.35, 0.01: 0.12, 0.001: 0.04}[lr]
            points = []
            for step in range(RUN_STEPS):
                at = start + timedelta(minutes=step)
                loss = 2.3 * math.exp(-speed * step) + 0.05 * (1 + math.sin(step)) * (lr * 10)
                points += [metric_json("loss", round(loss, 4), step, at),
                           metric_json("accuracy", round(0.98 - 0.88 * math.exp(-speed * step), 4), step, at)]
            await gateway.log_batch(PROJECT, run["id"], f"{name}-metrics", metrics=points)
            await gateway.record_output(PROJECT, run["id"], "model", f"models/{name}.pt", name=f"{name}.pt",
                                        size=94_371_840)
            await gateway.finish_run(PROJECT, run["id"], end_time=start + timedelta(minutes=RUN_STEPS))


async def cache_ready(stack: Stack, token: str, project: str, name: str, commit_id: str) -> None:
    gateway_call(stack.base_url, token, "POST", f"{API}/caches", {"project": project, "dataset": name,
                                                                  "site": STACK_SITE})
    path = f"{API}/projects/{project}/sites/{STACK_SITE}/copies/{commit_id}"
    await eventually(lambda: gateway_call(stack.base_url, token, "GET", path)["state"] == "ready",
                     message=f"{project}/{name} to be cached")


def _live_holders(stack: Stack, project: str, commit_id: str) -> list[str] | None:
    try:
        found = gateway_call(stack.base_url, stack.token, "GET",
                             f"{API}/projects/{project}/sites/{STACK_SITE}/copies/{commit_id}/eviction")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the evictor has not seen the copy yet
            return None
        raise
    return [lease["holder"] for lease in found["live_leases"]]


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> World:
    tokens = {
        "ada": create_user(stack.base_url, stack.token, "ada", {PROJECT: "admin"}),
        "vic": create_user(stack.base_url, stack.token, "vic", {PROJECT: "viewer"}),
        "eve": create_user(stack.base_url, stack.token, "eve", {SANDBOX: "editor"}),
        "sam": create_user(stack.base_url, stack.token, "sam", {SANDBOX: "viewer"}),
    }
    commits = asyncio.run(_seed(stack, tokens, tmp_path_factory.mktemp("seed")))
    return World(stack, tokens, commits)


# --- helpers ------------------------------------------------------------------------------------


def sign_in(page: WebDriver, world: World, who: str, *, then: str = "/") -> None:
    """Sign in through the login form as a person types it, and land on ``then``."""
    page.delete_all_cookies()
    page.get(f"{world.base}/login?next={then}")
    field = wait_visible(page, "input#token")
    field.send_keys(world.tokens[who])
    page.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait_until(page, lambda d: d.current_url == world.base + then and d.find_elements(By.CSS_SELECTOR, ".signout"),
               message=f"{who} to land on {then}")
    wait_loaded(page)


def reload_until(page: WebDriver, condition, *, message: str, timeout: float = 30.0):
    """Reload the page until ``condition(page)`` holds: for what the page shows only when it is
    rendered again (nothing on it is live)."""
    def check(driver: WebDriver):
        driver.refresh()
        wait_loaded(driver)
        return condition(driver)
    return WebDriverWait(page, timeout, poll_frequency=0.3).until(check, message)


def row_of(page: WebDriver, project: str, commit_id: str):
    rows = page.find_elements(By.CSS_SELECTOR, f'tr.copy[data-copy="{project}/{commit_id}"]')
    return rows[0] if rows else None


def http_status(url: str, *, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   **({"Cookie": f"{COOKIE}={cookie}"} if cookie else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- 1. signing in and out ----------------------------------------------------------------------


def test_signing_in_keeps_the_token_out_of_the_page_and_signing_out_ends_the_session(world, page, screenshot):
    page.get(f"{world.base}/")
    # Not signed in: the hub sends the browser to the sign-in form.
    wait_until(page, lambda d: d.current_url.startswith(f"{world.base}/login"), message="the login page")
    assert wait_visible(page, "h1").text == "Sign in"
    assert page.find_elements(By.CSS_SELECTOR, "nav[aria-label=Main]") == []
    token_field = page.find_element(By.CSS_SELECTOR, "input#token")
    assert token_field.get_attribute("type") == "password" and token_field.get_attribute("required")
    screenshot("login", full_page=False)

    token_field.send_keys(world.tokens["sam"])
    page.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait_until(page, lambda d: d.current_url == world.base + "/", message="the hub after signing in")
    assert wait_visible(page, "h1").text == "Datasets"
    assert page.find_element(By.CSS_SELECTOR, ".who").text == "sam"
    assert f"{SANDBOX}/hub-badge" in page.find_element(By.CSS_SELECTOR, "#datasets").text

    [session] = [c for c in page.get_cookies() if c["name"] == COOKIE]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/"
    assert session["value"] != world.tokens["sam"]
    # Script cannot read the session, and the typed token is nowhere the page or its storage keeps.
    assert COOKIE not in page.execute_script("return document.cookie")
    stored = page.execute_script(
        "const all = {}; for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) "
        "{ all[s.key(i)] = s.getItem(s.key(i)); } return JSON.stringify(all);")
    for secret in (world.tokens["sam"], session["value"]):
        assert secret not in page.page_source and secret not in stored and secret not in page.current_url
    assert http_status(f"{world.base}{API}/me", cookie=session["value"]) == 200

    page.find_element(By.CSS_SELECTOR, ".signout button[type=submit]").click()
    wait_until(page, lambda d: d.current_url.startswith(f"{world.base}/login"), message="the login page again")
    assert [c for c in page.get_cookies() if c["name"] == COOKIE] == []
    # The old cookie is dead, whoever still holds it: the API refuses it and pages send to sign-in.
    assert http_status(f"{world.base}{API}/me", cookie=session["value"]) == 401
    page.add_cookie({"name": COOKIE, "value": session["value"], "path": "/"})
    page.get(f"{world.base}/sites")
    wait_until(page, lambda d: d.current_url.startswith(f"{world.base}/login"), message="sign-in asked again")
    assert wait_visible(page, "h1").text == "Sign in"


# --- 2. the hub ---------------------------------------------------------------------------------


def test_hub_search_narrows_the_datasets(world, page, screenshot):
    sign_in(page, world, "ada")
    table = wait_visible(page, "#datasets")
    names = [a.text for a in table.find_elements(By.CSS_SELECTOR, "tbody td:first-child a")]
    assert names == [f"{PROJECT}/{name}" for name in sorted(DATASETS)]
    xray_row = table.find_element(By.XPATH, ".//tr[td/a[text()='vision/chest-xray']]")
    assert "Synthetic chest x-rays" in xray_row.text and "medical" in xray_row.text
    assert xray_row.find_element(By.CSS_SELECTOR, "code").text == world.commits["vision/chest-xray"][-1][:12]
    assert xray_row.find_element(By.CSS_SELECTOR, "a.badge").text == STACK_SITE
    mnist_row = table.find_element(By.XPATH, ".//tr[td/a[text()='vision/mnist-small']]")
    assert "nowhere" in mnist_row.text
    screenshot("datasets")

    search = page.find_element(By.CSS_SELECTOR, "input#q")
    search.send_keys("x-rays", Keys.ENTER)
    wait_until(page, lambda d: "q=x-rays" in d.current_url, message="the search to be sent")
    names = [a.text for a in wait_visible(page, "#datasets").find_elements(By.CSS_SELECTOR,
                                                                             "tbody td:first-child a")]
    assert names == ["vision/chest-xray"]
    assert page.find_element(By.CSS_SELECTOR, "input#q").get_attribute("value") == "x-rays"

    search = page.find_element(By.CSS_SELECTOR, "input#q")
    search.clear()
    search.send_keys("no-such-thing", Keys.ENTER)
    assert "No dataset matches" in wait_visible(page, "p.empty").text


def test_hub_shows_where_a_dataset_is_cached_once_it_is(world, page):
    sign_in(page, world, "eve")
    row = wait_visible(page, "#datasets").find_element(By.XPATH, ".//tr[td/a[text()='sandbox/hub-badge']]")
    assert row.find_elements(By.CSS_SELECTOR, "a.badge") == [] and "nowhere" in row.text

    commit_id = world.commits["sandbox/hub-badge"][-1]
    gateway_call(world.base, world.tokens["eve"], "POST", f"{API}/caches",
                 {"project": SANDBOX, "dataset": "hub-badge", "site": STACK_SITE})

    def ready_badge(driver: WebDriver):
        badges = driver.find_elements(By.XPATH, "//tr[td/a[text()='sandbox/hub-badge']]//a[contains(@class, 'badge')]")
        return badges[0] if badges and "state-ready" in badges[0].get_attribute("class") else None

    badge = reload_until(page, ready_badge, message="the hub to show the copy ready")
    assert badge.text == STACK_SITE and badge.get_attribute("href").endswith(f"/sites?site={STACK_SITE}")
    assert commit_id[:12] in badge.get_attribute("title")


# --- 3. the cache map: request, follow live, evict -----------------------------------------------


@pytest.fixture
def held_fills(monkeypatch) -> Iterator[object]:
    """Reads of dataset contents from the lake wait until the test lets them go. A fill of a few
    small files ends within milliseconds, before a page could follow it; held, the copy stays
    ``requested``/``filling`` until the page shows it following the copy's event stream, so the
    live path is the one tested."""
    import threading

    gate = threading.Event()
    original = local_objects._LocalReader._start  # noqa: SLF001 - the one place every lake read passes

    async def held_start(self):
        if "objects/sha256/" in self._key:  # noqa: SLF001 - contents only: manifests and listings go on
            await asyncio.to_thread(gate.wait, 60)
        await original(self)

    monkeypatch.setattr(local_objects._LocalReader, "_start", held_start)  # noqa: SLF001
    try:
        yield gate
    finally:
        gate.set()


def test_cache_map_requests_a_copy_follows_its_fill_live_and_evicts_it(world, page, held_fills):
    commit_id = world.commits["sandbox/fill-live"][-1]
    sign_in(page, world, "eve", then="/sites")
    assert row_of(page, SANDBOX, commit_id) is None

    # The capacity bar: an SVG with the used part and both watermarks.
    volume = wait_visible(page, f'article.volume[data-volume="{STACK_SITE}/{STACK_VOLUME}"]')
    bar = volume.find_element(By.CSS_SELECTOR, "svg.capacity")
    assert bar.get_attribute("role") == "img" and "used of" in bar.get_attribute("aria-label")
    assert len(bar.find_elements(By.CSS_SELECTOR, "rect.used")) == 1
    marks = {m.get_attribute("class"): float(m.get_attribute("x1")) for m in bar.find_elements(By.CSS_SELECTOR,
                                                                                               "line.mark")}
    assert set(marks) == {"mark high", "mark low"} and 0 < marks["mark low"] <= marks["mark high"] <= 100

    page.find_element(By.CSS_SELECTOR, "#request-panel summary").click()
    form = wait_visible(page, "#request-form")
    form.find_element(By.CSS_SELECTOR, "select[name=project]").send_keys(SANDBOX)
    form.find_element(By.CSS_SELECTOR, "input[name=dataset]").send_keys("fill-live")
    assert form.find_element(By.CSS_SELECTOR, "input[name=ref]").get_attribute("value") == "latest"
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_text(page, "#flash", "Request: done (202)")

    # The page reloads and shows the copy being filled, following its event stream.
    following = f'tr.copy[data-copy="{SANDBOX}/{commit_id}"][data-events]'
    row = wait_visible(page, following)
    assert row.find_element(By.CSS_SELECTOR, ".badge").text in ("requested", "filling")
    assert row.find_element(By.CSS_SELECTOR, ".progress").is_displayed()
    assert row.get_attribute("data-events").endswith(f"/copies/{commit_id}/events")
    wait_loaded(page)
    # What the live updates write into the badge, kept across the reload they end with.
    page.execute_script(
        "const badge = document.querySelector(arguments[0]).querySelector('.badge');"
        "sessionStorage.setItem('seen', badge.textContent);"
        "new MutationObserver(() => sessionStorage.setItem('seen', sessionStorage.getItem('seen') + ' ' + "
        "badge.textContent)).observe(badge, {childList: true, characterData: true, subtree: true});", following)
    held_fills.set()

    ready = f'tr.copy.state-ready[data-copy="{SANDBOX}/{commit_id}"]'
    row = wait_visible(page, ready, timeout=30)
    assert row.get_attribute("data-events") is None  # reloaded: a ready copy is not followed
    assert page.execute_script("return sessionStorage.getItem('seen')").split()[-1] == "ready"
    assert row.find_element(By.CSS_SELECTOR, ".badge").text == "ready"
    assert row.find_element(By.CSS_SELECTOR, "td:nth-child(3)").text == size(
        sum(len(data) for data in SANDBOX_DATASETS["fill-live"].values()))
    assert (page.execute_script("return sessionStorage.getItem('seen')").split()[0]) in ("requested", "filling")

    evict = row.find_element(By.XPATH, ".//button[text()='Evict']")
    evict.click()
    dialog = WebDriverWait(page, WAIT_SECONDS).until(EC.alert_is_present())
    assert dialog.text.startswith(f"Evict {SANDBOX}/fill-live {commit_id[:12]} from {STACK_SITE}/{STACK_VOLUME}")
    dialog.accept()
    wait_text(page, "#flash", "Evict: done")

    def gone_or_evicted(driver: WebDriver) -> bool:
        row = row_of(driver, SANDBOX, commit_id)
        return row is None or row.find_element(By.CSS_SELECTOR, ".badge").text == "evicted"

    reload_until(page, gone_or_evicted, message="the copy to leave the volume")


# --- 4. a viewer -------------------------------------------------------------------------------


def test_a_viewer_sees_the_copies_but_no_control_that_changes_them(world, page):
    sign_in(page, world, "vic", then="/sites")
    xray = world.commits["vision/chest-xray"][-1]
    row = wait_visible(page, f'tr.copy[data-copy="{PROJECT}/{xray}"]')
    assert row.find_element(By.CSS_SELECTOR, ".badge").text == "ready"
    assert LEASE_HOLDER in row.text
    assert row_of(page, PROJECT, world.commits["vision/coco-captions"][-1]) is not None
    assert page.find_elements(By.CSS_SELECTOR, "#request-panel, #request-form") == []
    assert page.find_elements(By.CSS_SELECTOR, "[data-api-method]") == []
    assert page.find_elements(By.XPATH, "//button[text()='Evict' or text()='Pin' or text()='Unpin']") == []
    # The frame's sign-out form is the page's only form a viewer can send.
    assert [f.get_attribute("action") for f in page.find_elements(By.CSS_SELECTOR, "form")] == [f"{world.base}/logout"]


# --- 5. a forged change -------------------------------------------------------------------------

FETCH = """
const [path, withToken, done] = arguments;
const headers = {"Content-Type": "application/json", "Accept": "application/json"};
if (withToken) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
fetch(path, {method: "POST", credentials: "same-origin", headers, body: JSON.stringify({name: "from the page"})})
  .then(async (r) => done([r.status, await r.text()]), (e) => done([0, String(e)]));
"""


def test_a_change_from_the_browser_needs_the_pages_csrf_token(world, page):
    sign_in(page, world, "vic")
    page.set_script_timeout(WAIT_SECONDS)

    status, body = page.execute_async_script(FETCH, f"{API}/tokens", False)
    assert status == 403, body
    assert "CSRF" in json.loads(body)["detail"] or "csrf" in json.loads(body)["detail"].lower()

    status, body = page.execute_async_script(FETCH, f"{API}/tokens", True)
    assert status == 201, body
    made = json.loads(body)
    assert made["token"].startswith("lct_")
    # Made for the signed-in person, and only once: the refused request left nothing behind.
    mine = gateway_call(world.base, world.tokens["vic"], "GET", f"{API}/tokens")["items"]
    assert [t["name"] for t in mine].count("from the page") == 1


# --- 6. the keyboard ----------------------------------------------------------------------------


def test_tab_from_the_top_reaches_the_skip_link_then_the_navigation(world, page):
    sign_in(page, world, "ada")
    page.get(f"{world.base}/")  # a fresh load: the keyboard starts at the top of the document
    wait_loaded(page)
    assert page.execute_script("return document.activeElement === document.body")
    reached = []
    for _ in range(7):
        ActionChains(page).send_keys(Keys.TAB).perform()
        reached.append(page.execute_script(
            "const e = document.activeElement; return [e.tagName, e.textContent.trim(), e.getAttribute('href')];"))
    assert reached[0] == ["A", "Skip to content", "#main"]
    assert reached[1] == ["A", "LakeCache", "/"]
    assert reached[2:6] == [["A", "Datasets", "/"], ["A", "Cache map", "/sites"], ["A", "Experiments", "/experiments"],
                            ["A", "Lineage", "/lineage"]]
    # The skip link, focused, is shown, and takes the reader to the content.
    ActionChains(page).key_down(Keys.SHIFT).send_keys(Keys.TAB * 6).key_up(Keys.SHIFT).perform()
    skip = page.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed() and skip.location["x"] >= 0
    skip.send_keys(Keys.ENTER)
    wait_until(page, lambda d: d.current_url.endswith("#main"), message="the skip link to be followed")


# --- 7. the cache map as pictured ---------------------------------------------------------------


def test_cache_map_shows_a_leased_copy_with_its_ttl(world, page, screenshot):
    sign_in(page, world, "ada", then="/sites")
    xray = world.commits["vision/chest-xray"][-1]
    row = wait_visible(page, f'tr.copy[data-copy="{PROJECT}/{xray}"]')
    cells = [td.text for td in row.find_elements(By.CSS_SELECTOR, "td")]
    assert cells[1].startswith("ready") and cells[4] == LEASE_HOLDER
    assert cells[3] == "in use now"  # not the lease's end, which the evictor counts as the last use
    assert "of 1 d" in cells[5] and "default" in cells[5]  # TTL left, of the default day
    assert wait_clickable(page, f'tr.copy[data-copy="{PROJECT}/{xray}"] button.danger').text == "Evict"
    assert row.find_element(By.XPATH, ".//button[text()='Pin']")  # ada administers the project
    screenshot("cache-map")


# --- 8. a dataset: its commits, a diff, its files; tagging ---------------------------------------


def test_dataset_page_shows_commits_their_changes_and_files(world, page, screenshot):
    v1, v2 = world.commits["vision/chest-xray"]
    sign_in(page, world, "ada")
    wait_visible(page, "#datasets").find_element(By.LINK_TEXT, "vision/chest-xray").click()
    wait_until(page, lambda d: d.current_url == f"{world.base}/datasets/{PROJECT}/chest-xray",
               message="the dataset page")
    assert wait_visible(page, "h1").text == "vision/chest-xray"
    assert "Synthetic chest x-rays, two classes" in page.find_element(By.CSS_SELECTOR, ".about").text
    rows = page.find_elements(By.CSS_SELECTOR, "#commit-log tbody tr")
    assert [r.get_attribute("data-commit") for r in rows] == [v2, v1]  # newest first
    assert "v1" in rows[1].find_element(By.CSS_SELECTOR, "td:first-child").text
    assert rows[0].find_element(By.CSS_SELECTOR, "a.badge").text == f"{STACK_SITE}: ready"
    assert [r.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text for r in rows] == ["version 2", "version 1"]

    rows[0].find_element(By.LINK_TEXT, "Changes").click()
    summary = wait_visible(page, "#diff-summary")
    assert summary.text.endswith("1 added, 1 changed, 0 removed.")
    assert v1[:12] in summary.text and v2[:12] in summary.text
    changes = {r.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text: r.find_element(By.CSS_SELECTOR, ".badge").text
               for r in page.find_elements(By.CSS_SELECTOR, "#diff-list tbody tr")}
    assert changes == {"normal/0002.png": "changed", "pneumonia/0002.png": "added"}
    page.execute_script("window.scrollTo(0, 0)")
    screenshot("dataset", max_height=1800)

    page.find_element(By.CSS_SELECTOR, f'#commit-log tr[data-commit="{v2}"]').find_element(
        By.LINK_TEXT, "Browse").click()
    wait_until(page, lambda d: f"ref={v2}" in d.current_url, message="the file browser of the newest commit")
    listing = {r.find_element(By.CSS_SELECTOR, "td:first-child").text: r.find_element(
        By.CSS_SELECTOR, "td:last-child").text for r in wait_visible(page, "#file-list").find_elements(
        By.CSS_SELECTOR, "tbody tr.directory")}
    assert listing == {"normal/": "2", "pneumonia/": "2"}
    page.find_element(By.LINK_TEXT, "pneumonia/").click()
    wait_until(page, lambda d: "prefix=pneumonia" in d.current_url, message="the directory's files")
    files = [c.text for c in wait_visible(page, "#file-list").find_elements(By.CSS_SELECTOR, "tr.file code")]
    assert files == ["0001.png", "0002.png"]


def test_an_editor_tags_a_commit_from_the_dataset_page(world, page):
    sign_in(page, world, "eve", then=f"/datasets/{SANDBOX}/hub-badge")
    assert page.find_elements(By.CSS_SELECTOR, "ul.tags") == []
    page.find_element(By.CSS_SELECTOR, "#tag-panel summary").click()
    form = wait_visible(page, "#tag-form")
    form.find_element(By.CSS_SELECTOR, "input[name=tag]").send_keys("golden")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_text(page, "#flash", "Tag: done (201)")
    tags = wait_visible(page, "ul.tags")  # after the reload
    assert tags.text == f"golden → {world.commits['sandbox/hub-badge'][-1][:12]}"
    tagged = gateway_call(world.base, world.tokens["eve"], "GET", f"{API}/datasets/{SANDBOX}/hub-badge/refs/golden")
    assert tagged["id"] == world.commits["sandbox/hub-badge"][-1]


# --- 9. the tracker: runs, a run's charts, lineage ------------------------------------------------


def test_runs_table_a_runs_charts_and_the_lineage_graph(world, page, screenshot):
    sign_in(page, world, "ada", then="/experiments")
    wait_visible(page, "table.experiments").find_element(By.LINK_TEXT, EXPERIMENT).click()
    table = wait_visible(page, "#runs")
    assert wait_visible(page, "h1").text.startswith("Runs")
    names = [a.text for a in table.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(2) a")]
    assert sorted(names) == sorted(RUNS)
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert {"lr", "batch_size", "loss", "accuracy"} <= {h.rstrip(" ▾▴") for h in headers}
    assert {b.text for b in table.find_elements(By.CSS_SELECTOR, "tbody .badge")} == {"finished"}
    screenshot("runs", full_page=False)

    table.find_element(By.LINK_TEXT, "resnet50-lr0.01").click()
    wait_until(page, lambda d: "/runs/" in d.current_url, message="the run's page")
    charts = {f.get_attribute("data-metric"): f for f in wait_visible(page, "figure.chart").find_element(
        By.XPATH, "..").find_elements(By.CSS_SELECTOR, "figure.chart")}
    assert set(charts) == {"loss", "accuracy"}
    line = charts["loss"].find_element(By.CSS_SELECTOR, "svg.chart polyline")
    assert len(line.get_attribute("points").split()) == RUN_STEPS  # every step drawn
    assert f"at step {RUN_STEPS - 1}" in charts["loss"].find_element(By.TAG_NAME, "figcaption").text
    inputs = page.find_element(By.CSS_SELECTOR, "#inputs tbody tr")
    assert "chest-xray" in inputs.text and inputs.find_element(By.CSS_SELECTOR, ".badge").text == "hit"
    screenshot("run", max_height=1800)

    xray = world.commits["vision/chest-xray"][-1]
    inputs.find_element(By.CSS_SELECTOR, f'a[title="lineage of commit {xray}"]').click()
    graph = wait_visible(page, "svg.lineage")
    nodes = page.find_elements(By.CSS_SELECTOR, "#lineage-nodes tbody tr")
    kinds = sorted(r.find_element(By.CSS_SELECTOR, "td:first-child").text for r in nodes)
    assert kinds == ["commit", "model", "model", "model", "run", "run", "run"]
    assert len(graph.find_elements(By.CSS_SELECTOR, "g[data-node]")) == len(nodes)
    assert len(graph.find_elements(By.CSS_SELECTOR, "path.edge")) == len(
        page.find_elements(By.CSS_SELECTOR, "#lineage-edges tbody tr")) == 6
    screenshot("lineage", max_height=1800)


# --- 10. administration -------------------------------------------------------------------------


def test_only_an_administrator_sees_the_users(world, page, screenshot):
    """(Creating users and tokens from these pages: test_admin_pages.py.)"""
    sign_in(page, world, "ada")
    assert page.find_elements(By.CSS_SELECTOR, 'nav[aria-label=Main] a[href="/admin"]') == []
    page.get(f"{world.base}/admin")
    assert wait_visible(page, "h1").text == "Not allowed"
    assert page.find_elements(By.CSS_SELECTOR, "#users") == []

    tokens = {**world.tokens, "admin": world.stack.token}
    sign_in(page, World(world.stack, tokens, world.commits), "admin", then="/admin")
    users = wait_visible(page, "#users")
    roles = {r.get_attribute("data-user"): r.find_element(By.CSS_SELECTOR, "td:nth-child(4)").text
             for r in users.find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert roles == {"ada": "vision admin", "admin": "none", "eve": "sandbox editor", "sam": "sandbox viewer",
                     "vic": "vision viewer"}
    assert page.find_element(By.CSS_SELECTOR, 'nav[aria-label=Main] a[href="/admin"]').get_attribute(
        "aria-current") == "page"
    screenshot("admin", full_page=False)
