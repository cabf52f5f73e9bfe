"""A user's own data in Chromium (seed 002, issue 26): the account page
offers "Download my data" (a JSON file) and "Delete my account", which
asks for the password again, explains the cooling-off and needs a tick
before it asks; the pending deletion shows with a way to cancel, and on
the user's page for an administrator. The owner is told to hand over
ownership first. At 1280 and 390 px."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User, UserSession
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles, settings):
    settings.MFA_POLICY = "none"
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("adam@example.com", roles=["admin"], name="Adam Admin")
    return make_user("mona@example.com", name="Mona Member")


def test_download_then_ask_to_delete_then_cancel(page, live_server, people, screenshot):
    base = live_server.url
    mona = people
    sign_in(page, base, "mona@example.com")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/account/")
    section = page.locator("#your-data")
    section.scroll_into_view_if_needed()
    screenshot(page, "account-your-data", phone=True)
    with page.expect_download() as download:
        section.get_by_role("link", name="Download my data").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["profile"]["email"] == "mona@example.com"
    assert len(data["known_devices"]) == 1  # this browser

    # Signing in was a fresh proof; make it an old one.
    UserSession.objects.update(reauthenticated_at=timezone.now() - timedelta(hours=1))
    section.get_by_role("link", name="Delete my account").click()
    page.wait_for_url(f"{base}/account/reauthenticate/**")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/account/delete/")
    screenshot(page, "account-delete-confirm", phone=True)
    button = page.get_by_role("button", name="Delete my account in 7 days")
    button.click()  # not ticked: the page says what is missing
    page.wait_for_load_state()
    expect(page.get_by_text("Tick the box to confirm you understand.").first).to_be_visible()
    assert User.objects.get(pk=mona.pk).deletion_due_at is None
    page.get_by_label("I understand").check()
    button.click()
    page.wait_for_url(f"{base}/account/")
    banner = page.locator("#deletion-due")
    expect(banner).to_be_visible()
    assert "will be deleted on" in banner.inner_text()
    screenshot(page, "account-deletion-due", phone=True)
    assert User.objects.get(pk=mona.pk).deletion_due_at is not None
    assert AuditEvent.objects.filter(action="accounts.account.deletion_requested").count() == 1

    banner.get_by_role("button", name="Cancel the deletion").click()
    page.wait_for_url(f"{base}/account/")
    expect(page.get_by_text("The deletion of your account was cancelled.")).to_be_visible()
    assert User.objects.get(pk=mona.pk).deletion_due_at is None


def test_an_administrator_sees_the_pending_deletion(page, live_server, people, screenshot):
    mona = people
    mona.deletion_due_at = timezone.now() + timedelta(days=7)
    mona.save(update_fields=["deletion_due_at"])
    sign_in(page, live_server.url, "adam@example.com")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/users/{mona.pk}/")
    expect(page.locator("#deletion-due")).to_be_visible()
    screenshot(page, "user-deletion-due", phone=True)
    page.goto(f"{live_server.url}/users/")
    expect(page.get_by_text("Deletion due").first).to_be_visible()


def test_the_owner_is_told_to_hand_over_ownership_first(page, live_server, people, screenshot):
    sign_in(page, live_server.url, "owner@example.com")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/account/delete/")
    expect(page.get_by_text("transfer the ownership to someone else")).to_be_visible()
    expect(page.get_by_role("button", name="Delete my account in 7 days")).to_have_count(0)
    screenshot(page, "account-delete-owner", phone=True)


def test_this_was_not_me_from_the_new_device_notice(page, browser, live_server, people, screenshot):
    """Mona signs in on her laptop, someone else on another browser; the
    notice's link, opened in her mail app's browser, asks, then signs out
    both and lands on choosing a new password."""
    import re

    from accounts.models import OutboundEmail
    from accounts.services.sealing import unseal

    base = live_server.url
    sign_in(page, base, "mona@example.com")
    page.wait_for_url(f"{base}/")
    other = browser.new_context()
    try:
        thief = other.new_page()
        sign_in(thief, base, "mona@example.com")
        thief.wait_for_url(f"{base}/")
    finally:
        other.close()
    [notice] = OutboundEmail.objects.filter(subject__contains="New sign-in")
    link = re.search(r"https?://\S+/sign-in/not-me/\S+/", unseal(notice.body_text)).group(0)
    mail_app = browser.new_context()
    try:
        victim = mail_app.new_page()
        victim.goto(base + link[link.index("/sign-in/") :])
        victim.wait_for_url(f"{base}/sign-in/not-me/continue/")
        screenshot(victim, "sign-in-report", phone=True)
        victim.get_by_role("button", name="Sign out everywhere and choose a new password").click()
        victim.wait_for_url(f"{base}/password/reset/continue/")
        expect(victim.get_by_role("heading", name="Choose a new password")).to_be_visible()
    finally:
        mail_app.close()
    assert not UserSession.objects.filter(user=people, ended_at__isnull=True).exists()
    page.goto(f"{base}/account/")
    page.wait_for_url(f"{base}/login/**")
