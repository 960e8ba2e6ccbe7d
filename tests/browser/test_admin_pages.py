"""The admin pages and /tokens in headless Chromium against the whole stack: a token created from a
page is shown once and kept out of URLs and browser storage; an administrator creates a user,
gives them a role from the project's members page and hands them a first token — each change
sent by the page's script to the API, as a person clicks it."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.browser.driver import wait_loaded, wait_until, wait_visible
from tests.browser.test_dashboard import World, sign_in
from tests.support.stack import Stack, create_user, gateway_call

PROJECT = "crew"


@pytest.fixture(scope="module")
def people(stack: Stack) -> World:
    """``root`` is the installation's administrator, ``ann`` views project crew."""
    tokens = {"root": stack.token, "ann": create_user(stack.base_url, stack.token, "ann", {PROJECT: "viewer"})}
    return World(stack, tokens, {})


def shown_secret(page: WebDriver) -> str:
    """The secret in the one-time box, after checking it went nowhere else."""
    secret = wait_visible(page, ".secret code").text
    assert secret.startswith("lct_")
    assert secret not in page.current_url
    storage = page.execute_script("return JSON.stringify([Object.entries(localStorage), "
                                  "Object.entries(sessionStorage), document.cookie])")
    assert secret not in storage
    return secret


def test_a_token_created_from_my_tokens_is_shown_once_then_only_listed(people, page):
    sign_in(page, people, "ann", then="/tokens")
    page.find_element(By.CSS_SELECTOR, "#new-token summary").click()
    page.find_element(By.CSS_SELECTOR, '#new-token input[name="name"]').send_keys("laptop")
    page.find_element(By.CSS_SELECTOR, "#new-token button[type=submit]").click()
    secret = shown_secret(page)
    assert gateway_call(people.base, secret, "GET", "/api/v1/me")["name"] == "ann"

    page.find_element(By.XPATH, "//div[@class='secret']//button[.='Done, I copied it']").click()
    wait_until(page, lambda d: not d.find_elements(By.CSS_SELECTOR, ".secret")
               and "laptop" in d.find_element(By.ID, "tokens").text, message="the list to show the new token")
    wait_loaded(page)
    assert secret not in page.page_source
    this_browser = page.find_element(By.CSS_SELECTOR, "#tokens tr.current")
    assert "this browser" in this_browser.text and not this_browser.find_elements(By.CSS_SELECTOR, "button")


def test_an_administrator_creates_a_user_gives_a_role_and_a_first_token(people, page):
    sign_in(page, people, "root", then="/admin")
    page.find_element(By.CSS_SELECTOR, "#new-user summary").click()
    page.find_element(By.CSS_SELECTOR, '#new-user input[name="name"]').send_keys("newbie")
    page.find_element(By.CSS_SELECTOR, "#new-user button[type=submit]").click()
    wait_until(page, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-user="newbie"]'),
               message="the new user in the list")
    assert "administrator" not in page.find_element(By.CSS_SELECTOR, 'tr[data-user="newbie"]').text  # box unticked

    page.find_element(By.LINK_TEXT, PROJECT).click()
    wait_loaded(page)
    page.find_element(By.CSS_SELECTOR, "#grant summary").click()
    page.find_element(By.CSS_SELECTOR, '#grant input[name="name"]').send_keys("newbie")
    Select(page.find_element(By.CSS_SELECTOR, '#grant select[name="role"]')).select_by_visible_text("editor")
    page.find_element(By.CSS_SELECTOR, "#grant button[type=submit]").click()
    wait_until(page, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-member="newbie"]'),
               message="the new member in the list")
    assert "editor" in page.find_element(By.CSS_SELECTOR, 'tr[data-member="newbie"]').text

    page.get(people.base + "/admin")
    wait_loaded(page)
    page.find_element(By.CSS_SELECTOR, 'tr[data-user="newbie"] form[data-done="show-token"] button').click()
    secret = shown_secret(page)
    me = gateway_call(people.base, secret, "GET", "/api/v1/me")
    assert me["name"] == "newbie" and me["roles"] == {PROJECT: "editor"}, json.dumps(me)
