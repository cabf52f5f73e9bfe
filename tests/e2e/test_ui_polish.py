"""Issue 16: the dashboard as a new administrator sees it, at 1280 and
390 px -- fresh figures, the users list, no sideways scrolling, plain words."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [(1280, 900), (390, 844)]


@pytest.fixture
def people(builtin_roles):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import UserSession
    from audit import services as audit

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    admin = make_user("admin@example.com", roles=["admin"], name="Ada Admin")
    now = timezone.now()
    grace = make_user("grace@example.com", roles=["editor"], name="Grace Hopper", last_login=now)
    bob = make_user(
        "bob@example.com",
        roles=["viewer"],
        name="Bob Banned",
        banned_until=now + timedelta(days=3),
        ban_reason="Spam",
    )
    make_user("carol@example.com", name="Carol Unverified", email_verified_at=None)
    UserSession.objects.create(
        session_key="k" * 40,
        user=grace,
        ip="2001:db8:85a3::8a2e:370:7334",
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    )
    audit.record("accounts.user.banned", actor=admin, target=bob, reason="Spam")
    return owner, admin, grace, bob


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def each_size(page, screenshot, name, check=None):
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        screenshot(page, f"{name}-{width}")
        if check:
            check(width)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_before_screenshots(live_server, page, screenshot, people):
    _, _, grace, _ = people
    sign_in(page, live_server.url, "admin@example.com")
    for name, url in [
        ("users-list", "/users/"),
        ("user-page", f"/users/{grace.pk}/"),
        ("audit-log", "/audit/"),
    ]:
        page.goto(live_server.url + url)
        each_size(page, screenshot, f"before/{name}")


# --- 1. fresh figures -------------------------------------------------------------


def test_overview_counts_a_created_user_at_once(live_server, page, screenshot, people):
    from django.core.cache import cache

    cache.clear()
    sign_in(page, live_server.url, "admin@example.com")
    page.goto(f"{live_server.url}/")
    all_users = page.locator(".stat-label", has_text="All users").locator("xpath=..")
    before = int(all_users.locator(".stat-value").inner_text())
    page.goto(f"{live_server.url}/users/new/")
    page.get_by_label("Email", exact=True).fill("fresh@example.com")
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector(".alert-success")
    page.goto(f"{live_server.url}/")
    assert int(all_users.locator(".stat-value").inner_text()) == before + 1

    def check(width):
        assert no_sideways_scroll(page), width

    each_size(page, screenshot, "overview", check)


def test_audit_action_filter_offers_a_just_recorded_event(live_server, page, people):
    from django.core.cache import cache

    cache.clear()
    sign_in(page, live_server.url, "admin@example.com")
    page.goto(f"{live_server.url}/audit/")
    assert page.locator("#id_action option[value='accounts.user.disabled']").count() == 0
    _, _, grace, _ = people
    page.goto(f"{live_server.url}/users/{grace.pk}/")
    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.get_by_label("Reason").fill("Left")
    page.locator(".modal.show").get_by_role("button", name="Disable").click()
    page.wait_for_selector(".alert-success")
    page.goto(f"{live_server.url}/audit/")
    assert page.locator("#id_action option[value='accounts.user.disabled']").count() == 1
