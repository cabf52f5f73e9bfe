"""An invitation into an organization for an account that exists, in
Chromium at 1280 and 390 px: the link asks to sign in (no password to
choose), the sign-in comes back to it, and the invitee joins with their
password -- their account otherwise untouched."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services.invitations import invitation_create
from rbac.actor import Actor
from rbac.models import Membership, Organization, UserRole
from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e.helpers import submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_existing_account_signs_in_and_joins(live_server, page, screenshot, builtin_roles):
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    Organization.objects.create(slug="acme", name="Acme Corp")
    cleo = make_user("cleo@example.com", name="Cleo Client")
    password_before = cleo.password
    _invitation, link = invitation_create(
        actor=Actor.console(owner), email=cleo.email, roles=["member"], organization="acme"
    )
    token = link.rstrip("/").rsplit("/", 1)[-1]
    page.goto(f"{live_server.url}/invite/{token}/")
    expect(page.get_by_role("heading", name="Join Acme Corp")).to_be_visible()
    assert page.get_by_label("New password").count() == 0
    screenshot(page, "invite-existing-sign-in", phone=True)
    page.get_by_role("link", name="Sign in as cleo@example.com").click()
    page.wait_for_url("**/login/**")
    submit_sign_in(page, "cleo@example.com")
    page.wait_for_url("**/invite/continue/")
    page.get_by_role("heading", name="Join Acme Corp").wait_for()
    screenshot(page, "invite-existing-join", phone=True)
    page.get_by_label("Your password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Join Acme Corp").click()
    page.get_by_text("You are now a member of Acme Corp.").wait_for()
    assert Membership.objects.filter(user=cleo, organization__slug="acme").exists()
    assert list(UserRole.objects.filter(user=cleo).values_list("role__slug", flat=True)) == [
        "member"
    ]
    cleo.refresh_from_db()
    assert cleo.password == password_before and cleo.name == "Cleo Client"
