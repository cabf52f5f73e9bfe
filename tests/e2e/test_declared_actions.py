"""The declared actions in a browser (issue 22): a new declaration on the
user page (mark an address verified), Django admin's ban asking for a
duration and a reason like the page, and a batch erasure asking for the
password."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    TOTPDevice.objects.create(user=owner, name="Authenticator", confirmed=True)
    make_user("mona@example.com", name="Mona Member", email_verified_at=None)
    make_user("linus@example.com", name="Linus Torvalds")
    return owner


def test_an_address_is_marked_verified_from_the_user_page(live_server, page, screenshot, people):
    from accounts.models import User

    mona = User.objects.get(email="mona@example.com")
    open_as(page, live_server.url, "owner@example.com", f"/users/{mona.pk}/")
    page.get_by_role("button", name=re.compile("More")).click()
    page.get_by_role("link", name="Mark as verified…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Reason").fill("Confirmed by phone")
    a11y.check(page, "declared-mark-verified")
    screenshot(page, "declared-mark-verified", phone=True)
    dialog.get_by_role("button", name="Mark as verified").click()
    page.get_by_text("is marked as verified").wait_for()
    mona.refresh_from_db()
    assert mona.email_verified_at is not None


def test_django_admin_asks_for_the_ban_duration_and_reason(live_server, page, screenshot, people):
    from accounts.models import User

    linus = User.objects.get(email="linus@example.com")
    open_as(page, live_server.url, "owner@example.com", "/admin/accounts/user/")
    page.locator(f"input[name=_selected_action][value='{linus.pk}']").check()
    page.locator("select[name=action]").select_option("user_ban_action")
    page.get_by_role("button", name="Go").click()
    page.get_by_role("heading", name="1 user").wait_for()
    page.get_by_label("Duration").select_option("days")
    page.get_by_label("Hours or days").fill("2")
    page.get_by_label("Reason").fill("Spam, twice")
    a11y.check(page, "declared-admin-ban", wcag_only=True)
    screenshot(page, "declared-admin-ban", phone=True)
    page.get_by_role("button", name="Ban").click()
    page.get_by_text("Ban: 1 done.").wait_for()
    linus.refresh_from_db()
    assert linus.ban_reason == "Spam, twice"
    left = linus.banned_until - timezone.now()
    assert 47 * 3600 < left.total_seconds() <= 48 * 3600


def test_a_batch_erasure_asks_for_the_password(live_server, page, screenshot, people):
    from accounts.models import User

    open_as(page, live_server.url, "owner@example.com", "/users/?q=linus")
    page.get_by_label("Select all on this page").check()
    page.get_by_label("Batch action").select_option("hard_delete")
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector("h1:has-text('Delete permanently: preview')")
    password = page.get_by_label(re.compile("Your current password"))
    expect(password).to_be_visible()
    screenshot(page, "declared-batch-erase", phone=True)
    password.fill(STRONG_PASSWORD)
    page.get_by_role("button", name=re.compile(r"^Delete permanently 1 user$")).click()
    page.wait_for_selector("h1:has-text('Delete permanently: result')")
    assert not User.objects.filter(email="linus@example.com").exists()
