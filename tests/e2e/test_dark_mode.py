"""Dark mode (issue 27): the dashboard follows the system's colour scheme,
a person can pick light or dark (kept across pages), and axe finds no
serious violation in either theme."""

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
    grace = make_user("grace@example.com", roles=["editor"], name="Grace Hopper")
    make_user("linus@example.com", roles=["viewer"], name="Linus Torvalds")
    return grace


def _theme(page) -> str:
    return page.evaluate("document.documentElement.getAttribute('data-bs-theme')")


def test_the_theme_follows_the_system_and_can_be_picked(live_server, page, screenshot, people):
    page.emulate_media(color_scheme="dark")
    open_as(page, live_server.url, "admin@example.com", "/users/")
    assert _theme(page) == "dark"
    picker = page.get_by_label("Theme")
    expect(picker).to_have_value("auto")
    picker.select_option("light")
    assert _theme(page) == "light"
    page.goto(f"{live_server.url}/")
    assert _theme(page) == "light"  # kept across pages
    page.get_by_label("Theme").select_option("auto")
    assert _theme(page) == "dark"
    page.emulate_media(color_scheme="light")
    page.wait_for_timeout(100)
    assert _theme(page) == "light"  # follows the system as it changes
    page.get_by_label("Theme").select_option("dark")
    page.goto(f"{live_server.url}/users/")
    assert _theme(page) == "dark"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violation_in_either_theme(
    live_server, page, screenshot, people, scheme
):
    grace = people
    page.emulate_media(color_scheme=scheme)
    open_as(page, live_server.url, "admin@example.com", "/")
    for name, path in [
        ("overview", "/"),
        ("users", "/users/"),
        ("user", f"/users/{grace.pk}/"),
        ("audit", "/audit/"),
        ("roles", "/roles/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert _theme(page) == scheme
        a11y.check(page, f"{name} ({scheme})")
        screenshot(page, f"theme-{scheme}-{name}", phone=True)
