"""Fixtures of the browser tests: one headless Chromium per test session (`browser`), the same
browser cleaned for each test (`page`), and screenshots into docs/images (`screenshot`).

Chromium and ChromeDriver are Debian's (`scripts/test` installs them as root). Where they are
missing or do not start, a test that needs them fails when CI=true and skips otherwise, with the
reason and what to install, like the tests that need a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.chromium import binaries, install_hint, missing
from tests.browser.driver import fit_viewport, start_chromium, take_screenshot
from tests.servers.registry import in_ci
from tests.support.stack import STACK_VOLUME, Stack, served_stack

BROWSER_FIXTURES = {"browser", "page"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that drives the browser is marked `browser` (`scripts/test -m "not browser"`)."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


def unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _log_tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium in a laptop-sized window with a clean profile, shared by the session."""
    if missing():
        unavailable(install_hint())
    root = tmp_path_factory.mktemp("chromium")
    log = root / "chromedriver.log"
    with pytest.MonkeyPatch.context() as patch:
        # Should Selenium Manager run after all, it must not try to download a driver or report
        # usage: the machines reach no network but the package registries.
        patch.setenv("SE_OFFLINE", "true")
        patch.setenv("SE_AVOID_STATS", "true")
        try:
            driver = start_chromium(binaries(), root / "profile", log)
        except WebDriverException as exc:
            unavailable(f"Chromium did not start: {exc.msg or exc}\n{_log_tail(log)}\n"
                        f"If chromium and chromium-driver differ in version, reinstall both: {install_hint()}")
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The session's browser, reset for this test: the laptop viewport again (a test may have
    resized it), and no cookies or storage left behind for the next test (a login must not carry
    over)."""
    fit_viewport(browser)
    yield browser
    try:
        if browser.current_url.startswith("http"):
            browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
        browser.delete_all_cookies()
    finally:
        browser.get("about:blank")


@pytest.fixture
def screenshot(page: WebDriver) -> Callable[..., Path]:
    """``screenshot(name, full_page=True)`` saves the page as docs/images/<name>.png (kept as
    is when its pixels did not change) and returns the path."""
    return lambda name, **options: take_screenshot(page, name, **options)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack behind the gateway, served over HTTP as `lakecache up` runs it, shared by
    the tests of one module (pages only read it; a test that changes data makes its own names)."""
    root = tmp_path_factory.mktemp("stack")
    with served_stack(root / "home", root / STACK_VOLUME) as running:
        yield running
