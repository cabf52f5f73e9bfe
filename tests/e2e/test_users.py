"""An administrator works with users in Chromium: list, detail, create, a
confirmation dialog, a batch dry run -- at desktop and phone width."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles):
    from datetime import timedelta

    from django.utils import timezone

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    admin = make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    now = timezone.now()
    make_user("grace@example.com", roles=["editor"], name="Grace Hopper", last_login=now)
    make_user(
        "linus@example.com",
        roles=["viewer"],
        name="Linus Torvalds",
        banned_until=now + timedelta(days=3),
        ban_reason="Spam",
    )
    make_user("ada@example.com", name="Ada Lovelace", email_verified_at=None)
    make_user("ken@example.com", name="<script>alert('x')</script>", disabled_at=now)
    return owner, admin


def shoot(page, screenshot, name):
    screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_admin_lists_filters_and_opens_a_user(live_server, page, screenshot, people):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server.url, "admin@example.com")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/users/")
    assert page.get_by_role("heading", name="Users").is_visible()
    assert page.get_by_role("link", name="<script>alert('x')</script>").is_visible()
    assert not dialogs  # the script in a name stays text
    shoot(page, screenshot, "users-list")

    page.get_by_label("Search").fill("lovelace")
    page.wait_for_url("**q=lovelace**")
    page.wait_for_function("document.querySelectorAll('.users-table tbody tr').length === 1")
    page.get_by_label("Search").fill("nobody-here")
    page.wait_for_selector("text=No users match these filters")
    shoot(page, screenshot, "users-list-no-match")

    page.goto(f"{live_server.url}/users/?q=linus")
    page.get_by_role("link", name="Linus Torvalds").click()
    page.wait_for_selector("h1:has-text('Linus Torvalds')")
    shoot(page, screenshot, "users-detail")

    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(500)  # the fade-in
    page.get_by_label("Reason").fill("Left the company")
    shoot(page, screenshot, "users-confirm-dialog")
    page.locator(".modal.show").get_by_role("button", name="Disable").click()
    page.wait_for_selector("text=is disabled.")
    assert page.locator(".badge", has_text="Banned").first.is_visible()
    # Refreshed in place (no reload): the dialog closes, the header offers
    # Enable, the status history shows the reason.
    page.wait_for_selector("#modal-root .modal", state="detached")
    page.wait_for_selector(".modal-backdrop", state="detached")
    page.wait_for_selector("text=No events by or about this user yet", state="detached")
    assert page.locator("#user-header").get_by_role("link", name="Enable").is_visible()
    assert page.locator("#section-status", has_text="Left the company").is_visible()
    shoot(page, screenshot, "users-detail-after-action")


def test_admin_creates_a_user(live_server, page, screenshot, people):
    sign_in(page, live_server.url, "admin@example.com")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/users/new/")
    page.get_by_label("Email", exact=True).fill("MEMBER@example.com")
    page.get_by_label("Name", exact=False).first.fill("Mary Member")
    page.get_by_label("Viewer").check()
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("short")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("text=This password is too short")
    shoot(page, screenshot, "users-create")
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("text=The account for member@example.com was created.")


def test_admin_previews_a_batch(live_server, page, screenshot, people):
    sign_in(page, live_server.url, "admin@example.com")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/users/")
    page.get_by_label("Select all on this page").check()
    page.get_by_label("Batch action").select_option("ban")
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector("h1:has-text('Ban: preview')")
    assert page.get_by_text("The owner cannot be banned.").is_visible()
    assert page.get_by_text("You cannot ban yourself.").is_visible()
    shoot(page, screenshot, "users-batch-dry-run")
    page.get_by_role("button", name="Ban 3 users").click()
    page.wait_for_selector("h1:has-text('Ban: result')")
    shoot(page, screenshot, "users-batch-result")
