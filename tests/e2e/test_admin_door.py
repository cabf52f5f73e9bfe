"""Django admin's door in a browser: an operator without an authenticator
app is told how to set one up, not shown an empty device list."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e import a11y
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_without_an_authenticator_is_shown_how_to_set_one_up(
    live_server, page, screenshot, builtin_roles, settings
):
    settings.MFA_POLICY = "none"  # so nothing but admin asks for the code
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("adam@example.com", roles=["admin"], name="Adam Admin")
    base = live_server.url

    page.goto(f"{base}/admin/")
    page.wait_for_url(f"{base}/login/?next=%2Fadmin%2F")
    sign_in(page, base, "adam@example.com")
    page.goto(f"{base}/admin/")
    heading = page.get_by_role("heading", name="Django admin needs two-factor authentication")
    heading.wait_for()
    assert page.locator("select[name=otp_device]").count() == 0  # no device dropdown
    a11y.check(page, "admin-door-no-authenticator")
    screenshot(page, "admin-door-no-authenticator")
    page.get_by_role("link", name="Go to your account page").click()
    page.wait_for_url(f"{base}/account/")
