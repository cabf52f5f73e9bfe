"""An administrator works with users in Chromium: list, detail, create, a
confirmation dialog, a batch dry run -- at desktop and phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import open_as, preview_ban_of_everyone

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


def test_admin_lists_filters_and_opens_a_user(live_server, page, screenshot, people):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_as(page, live_server.url, "admin@example.com", "/users/")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.get_by_role("link", name="<script>alert('x')</script>")).to_be_visible()
    assert not dialogs  # the script in a name stays text
    screenshot(page, "users-list", phone=True)

    page.get_by_label("Search").fill("lovelace")
    page.wait_for_url("**q=lovelace**")
    page.wait_for_function("document.querySelectorAll('.users-table tbody tr').length === 1")
    page.get_by_label("Search").fill("nobody-here")
    page.wait_for_selector("text=No users match these filters")
    screenshot(page, "users-list-no-match", phone=True)

    page.goto(f"{live_server.url}/users/?q=linus")
    page.get_by_role("link", name="Linus Torvalds").click()
    page.wait_for_selector("h1:has-text('Linus Torvalds')")
    screenshot(page, "users-detail", phone=True)

    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(500)  # the fade-in
    page.get_by_label("Reason").fill("Left the company")
    screenshot(page, "users-confirm-dialog", phone=True)
    page.locator(".modal.show").get_by_role("button", name="Disable").click()
    page.wait_for_selector("text=is disabled.")
    expect(page.locator(".badge", has_text="Banned").first).to_be_visible()
    # Refreshed in place (no reload): the dialog closes, the header offers
    # Enable, the status history shows the reason.
    page.wait_for_selector("#modal-root .modal", state="detached")
    page.wait_for_selector(".modal-backdrop", state="detached")
    page.wait_for_selector("text=No events by or about this user yet", state="detached")
    expect(page.locator("#user-header").get_by_role("link", name="Enable")).to_be_visible()
    expect(page.locator("#section-status", has_text="Left the company")).to_be_visible()
    screenshot(page, "users-detail-after-action", phone=True)


def test_admin_creates_a_user(live_server, page, screenshot, people):
    open_as(page, live_server.url, "admin@example.com", "/users/new/")
    page.get_by_label("Email", exact=True).fill("MEMBER@example.com")
    page.get_by_label("Name", exact=False).first.fill("Mary Member")
    page.get_by_label("Viewer").check()
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("short")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("text=This password is too short")
    screenshot(page, "users-create", phone=True)
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("text=The account for member@example.com was created.")


def test_admin_previews_a_batch(live_server, page, screenshot, people):
    open_as(page, live_server.url, "admin@example.com", "/users/")
    preview_ban_of_everyone(page)
    screenshot(page, "users-batch-dry-run", phone=True)
    # Linus is banned already: a batch re-ban changes his ban, as the page
    # and the API do (one declaration per action), so he is processed too.
    page.get_by_role("button", name="Ban 4 users").click()
    page.wait_for_selector("h1:has-text('Ban: result')")
    screenshot(page, "users-batch-result", phone=True)


def test_addresses_show_their_domain_as_typed_and_encoded(live_server, page, screenshot, people):
    """Issue 23: a look-alike domain is refused on the create page with
    words, and an international domain reads as typed with its encoded
    form beside it."""
    make_user("ann@bücher.example", name="")
    open_as(page, live_server.url, "admin@example.com", "/users/new/")
    page.get_by_label("Email", exact=True).fill("ada@ex\u0430mple.com")
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("text=mixes alphabets (Cyrillic and Latin)")
    screenshot(page, "users-create-look-alike", phone=True)
    page.goto(f"{live_server.url}/users/?q=ann")
    expect(page.get_by_text("ann@bücher.example (xn--bcher-kva.example)").first).to_be_visible()
    screenshot(page, "users-list-idn")
