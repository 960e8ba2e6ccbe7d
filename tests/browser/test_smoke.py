"""The browser infrastructure against a page the gateway serves today: its API reference."""

from __future__ import annotations

import json
import urllib.request

from lakecache.gateway.api.reference import DOCS_PATH, OPENAPI_PATH
from tests.browser.driver import WINDOW, wait_loaded, wait_visible


def test_api_reference_renders_in_chromium(stack, page, screenshot):
    with urllib.request.urlopen(stack.base_url + OPENAPI_PATH, timeout=30) as reply:
        info = json.load(reply)["info"]

    page.get(stack.base_url + DOCS_PATH)
    wait_loaded(page)

    heading = wait_visible(page, "h1")
    assert page.title == info["title"]
    assert heading.text == f"{info['title']} {info['version']}"
    # Pages are laid out, and screenshots taken, at the laptop size of the fixture.
    assert page.execute_script("return [window.innerWidth, window.innerHeight]") == list(WINDOW)

    shot = screenshot("api-reference", full_page=False)
    assert shot.is_file() and shot.name == "api-reference.png"
