"""The owner signs in, sees the overview and signs out, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site_owner(builtin_roles):
    return make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")


def test_owner_signs_in_sees_overview_and_signs_out(
    live_server, page, screenshot, site_owner, settings
):
    # The smoke journey is the password sign-in; enrolling the owner in MFA
    # (required for managers) is its own journey in tests/e2e/test_mfa.py.
    settings.MFA_POLICY = "none"
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    screenshot(page, "login")
    sign_in(page, live_server.url, "owner@example.com")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    screenshot(page, "overview", phone=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url


def test_wrong_password_shows_the_generic_error(live_server, page, site_owner):
    sign_in(page, live_server.url, "owner@example.com", "wrong-password-123")
    alert = page.get_by_role("alert")
    assert "Incorrect email or password" in alert.inner_text()
    assert page.get_by_label("Email").get_attribute("aria-invalid") == "true"
