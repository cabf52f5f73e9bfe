"""A locked-out user's page in the browser: the "Locked until" badge, the
recent failed sign-ins, and Unlock with its confirmation."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_sees_the_lock_and_unlocks_the_user(
    live_server, page, screenshot, builtin_roles, settings
):
    settings.MFA_POLICY = "none"
    make_user("owner@example.com", roles=["owner"], is_owner=True)
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    member = make_user("member@example.com", name="Mona Member")
    stranger = Client()
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        stranger.post(
            "/login/",
            {"email": member.email, "password": f"guess-{n}"},
            REMOTE_ADDR="198.51.100.23",
        )

    open_as(page, live_server.url, "admin@example.com", f"/users/{member.pk}/")
    expect(page.get_by_text("Locked until").first).to_be_visible()
    expect(page.get_by_text("Recent failed sign-ins")).to_be_visible()
    expect(page.get_by_text("from 198.51.100.23").first).to_be_visible()
    screenshot(page, "user-locked")

    unlock = page.get_by_role("link", name="Unlock").or_(page.get_by_role("button", name="Unlock"))
    unlock.first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Unlock").wait_for()
    page.wait_for_timeout(400)  # the dialog's fade-in
    screenshot(page, "user-unlock-confirm")
    dialog.get_by_role("button", name="Unlock").click()
    page.get_by_text("is unlocked and can sign in again").wait_for()
    assert page.get_by_text("Locked until").count() == 0
    page.locator(".modal-backdrop").wait_for(state="detached")
    screenshot(page, "user-unlocked")
