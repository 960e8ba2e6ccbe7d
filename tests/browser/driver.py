"""Headless Chromium through Selenium, waits, and the screenshots shown in the README.

Tests import the helpers from here; tests/browser/conftest.py holds the fixtures.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.chromium import Binaries

#: A laptop screen: pages must read well at this size, and every screenshot is this wide.
WINDOW = (1366, 900)
#: Longer pages are cut here, so one page cannot add megabytes to the repository.
MAX_SCREENSHOT_HEIGHT = 4000
#: How long a wait lasts by default: generous for a 2-core machine running other tests.
WAIT_SECONDS = 15.0

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def chromium_options(binary: Path, profile: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in (
        "--headless=new",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",  # a clean profile per session: no state leaks between runs
        # Same pixels on every machine: no HiDPI scaling, no overlay scrollbars eating the width.
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--lang=en-US",
        # /dev/shm is small in containers; Chromium then crashes on shared memory.
        "--disable-dev-shm-usage",
        "--disable-gpu",
        # The machines reach no network but the package registries: Chromium's own background
        # traffic (updates, sync, field trials, QUIC probes) would only fail, many times a start.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--password-store=basic",
    ):
        options.add_argument(flag)
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root (CI runs as root).
        options.add_argument("--no-sandbox")
    return options


def start_chromium(found: Binaries, profile: Path, log: Path) -> WebDriver:
    """Chromium driven by its ChromeDriver, both at the given paths. With the driver's path set,
    Selenium does not run Selenium Manager (which would look for or download a driver); the
    caller also sets SE_OFFLINE so that it never reaches for the network should it run."""
    service = Service(executable_path=str(found.chromedriver), log_output=str(log))
    driver = webdriver.Chrome(service=service, options=chromium_options(found.chromium, profile))
    driver.set_page_load_timeout(60)
    fit_viewport(driver)
    return driver


def fit_viewport(driver: WebDriver) -> None:
    """Make the page's viewport exactly :data:`WINDOW`: the window size includes the browser's
    frame and toolbars, which headless Chromium still reserves room for."""
    frame = driver.execute_script("return [window.outerWidth - window.innerWidth, "
                                  "window.outerHeight - window.innerHeight]")
    driver.set_window_size(WINDOW[0] + frame[0], WINDOW[1] + frame[1])


# --- waiting: for a condition, never for a fixed time ------------------------------------------


def wait_until(driver: WebDriver, condition: Callable[[WebDriver], T], *, timeout: float = WAIT_SECONDS,
               message: str = "") -> T:
    """The first truthy value of ``condition(driver)``; TimeoutException after ``timeout``."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition, message)


def wait_visible(driver: WebDriver, css: str, *, timeout: float = WAIT_SECONDS) -> WebElement:
    """The element matching the CSS selector, once it is displayed."""
    return wait_until(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout=timeout,
                      message=f"{css!r} to be visible")


def wait_clickable(driver: WebDriver, css: str, *, timeout: float = WAIT_SECONDS) -> WebElement:
    return wait_until(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, css)), timeout=timeout,
                      message=f"{css!r} to be clickable")


def wait_text(driver: WebDriver, css: str, text: str, *, timeout: float = WAIT_SECONDS) -> WebElement:
    """The element matching the CSS selector, once its text contains ``text`` (e.g. a status
    that a page updates from live progress)."""
    wait_until(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout=timeout,
               message=f"{css!r} to contain {text!r}")
    return driver.find_element(By.CSS_SELECTOR, css)


def wait_gone(driver: WebDriver, css: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Until nothing matching the selector is displayed (a spinner, a dialog)."""
    wait_until(driver, EC.invisibility_of_element_located((By.CSS_SELECTOR, css)), timeout=timeout,
               message=f"{css!r} to disappear")


def wait_loaded(driver: WebDriver, *, timeout: float = WAIT_SECONDS) -> None:
    """Until the document and its web fonts are loaded (fonts change the text's size)."""
    wait_until(driver, lambda d: d.execute_script(
        "return document.readyState === 'complete' && (!document.fonts || document.fonts.status === 'loaded')"),
        timeout=timeout, message="the page to load")


# --- screenshots ------------------------------------------------------------------------------

NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def screenshots_dir() -> Path:
    """docs/images, where the README shows them; LAKECACHE_SCREENSHOTS_DIR redirects them."""
    override = os.environ.get("LAKECACHE_SCREENSHOTS_DIR")
    return Path(override) if override else REPO / "docs" / "images"


def page_png(driver: WebDriver, *, full_page: bool = True, max_height: int = MAX_SCREENSHOT_HEIGHT) -> bytes:
    """A PNG of the page as laid out in the window's width: the whole document's height when
    ``full_page`` (Chromium renders beyond the viewport), at most ``max_height`` pixels."""
    metrics: dict[str, Any] = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    viewport = metrics["cssLayoutViewport"]
    height = math.ceil(metrics["cssContentSize"]["height"]) if full_page else viewport["clientHeight"]
    clip = {"x": 0, "y": 0, "width": viewport["clientWidth"], "height": max(1, min(height, max_height)), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": full_page, "fromSurface": True, "clip": clip})
    return base64.b64decode(shot["data"])


def save_png(png: bytes, path: Path) -> bool:
    """Write the picture to ``path`` unless the file there already shows the same pixels; True
    when written. Comparing pixels, not bytes, keeps an unchanged page from touching git even if
    another Chromium encodes it differently. Written as an optimized PNG without metadata (no
    timestamps), through a temporary file, so a file is never half-written."""
    from PIL import Image  # a dev dependency; imported here so that importing this module stays light

    image = Image.open(io.BytesIO(png)).convert("RGB")
    try:
        with Image.open(path) as existing:
            if existing.size == image.size and existing.convert("RGB").tobytes() == image.tobytes():
                return False
    except OSError:  # none yet, or not a picture: write it
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    image.save(partial, format="PNG", optimize=True)
    partial.replace(path)
    return True


def take_screenshot(driver: WebDriver, name: str, *, full_page: bool = True,
                    max_height: int = MAX_SCREENSHOT_HEIGHT) -> Path:
    """Save the page as ``<screenshots_dir>/<name>.png`` (see :func:`save_png`); its path."""
    if not NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: use lowercase letters, digits and '-'")
    wait_loaded(driver)
    path = screenshots_dir() / f"{name}.png"
    save_png(page_png(driver, full_page=full_page, max_height=max_height), path)
    return path
