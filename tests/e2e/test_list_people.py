"""The users list at a glance (issue 27): initials avatars, and copy
buttons for addresses and ids that put the exact text on the clipboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    grace = make_user("grace.hopper@example.com", roles=["editor"], name="Grace Brewster Hopper")
    make_user("nameless@example.com")
    return grace


def test_rows_show_initials_and_copy_addresses_and_ids(live_server, page, screenshot, people):
    grace = people
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_as(page, live_server.url, "admin@example.com", "/users/")
    row = page.locator(".users-table tbody tr", has_text="Grace Brewster Hopper")
    assert row.locator(".avatar").inner_text() == "GH"
    nameless = page.locator(".users-table tbody tr", has_text="nameless@example.com")
    assert nameless.locator(".avatar").inner_text() == "N"
    a11y.check(page, "users list with avatars")
    row.get_by_role("button", name="Copy the address grace.hopper@example.com").click()
    assert page.evaluate("navigator.clipboard.readText()") == "grace.hopper@example.com"
    nameless.get_by_role("button", name="Copy the address nameless@example.com").click()
    assert page.evaluate("navigator.clipboard.readText()") == "nameless@example.com"
    screenshot(page, "users-list-avatars", phone=True)

    page.goto(f"{live_server.url}/users/{grace.pk}/")
    page.get_by_role("button", name="Copy the user id").click()
    assert page.evaluate("navigator.clipboard.readText()") == str(grace.pk)
    page.get_by_role("button", name="Copy the address").click()
    assert page.evaluate("navigator.clipboard.readText()") == "grace.hopper@example.com"


def test_a_row_menu_offers_what_the_guards_allow_and_opens_the_action(
    live_server, page, screenshot, people
):
    grace = people
    make_user("vera@example.com", roles=["viewer"], name="Vera Viewer")
    open_as(page, live_server.url, "admin@example.com", "/users/")
    menu = page.get_by_role("button", name="Actions for grace.hopper@example.com")
    menu.click()
    items = page.locator(".dropdown-menu.show .dropdown-item").all_inner_texts()
    assert items[0] == "Open" and "Ban…" in items and "Disable…" in items
    a11y.check(page, "users list, a row's menu open")
    screenshot(page, "users-row-menu", phone=True)
    # Neither the owner nor oneself can be banned: no menu to offer it.
    assert page.get_by_role("button", name="Actions for owner@example.com").count() == 0
    page.goto(f"{live_server.url}/users/")
    page.get_by_role("button", name="Actions for grace.hopper@example.com").click()
    page.locator(".dropdown-menu.show").get_by_role("link", name="Ban…").click()
    page.wait_for_url(f"**/users/{grace.pk}/ban/")
    expect(page.get_by_role("button", name="Ban").first).to_be_visible()

    # A viewer reads the list and is offered no actions.
    page.context.clear_cookies()
    open_as(page, live_server.url, "vera@example.com", "/users/")
    assert page.locator(".row-menu").count() == 0
