"""Accepting an invitation with two-factor set up right away: offered to
everyone, and forced (by MFAPolicyMiddleware) when the invited roles
require it."""

from __future__ import annotations

import pytest

from accounts.services import invitations as services
from tests.accounts.mfa_helpers import code_for
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def open_invitation(client, admin_user, roles):
    _, link = services.invitation_create(actor=admin_user, email="ana@example.com", roles=roles)
    client.get(link.replace("http://testserver", ""))
    return client.get("/invite/continue/")


def accept(client, **extra):
    data = {"name": "Ana", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD, **extra}
    return client.post("/invite/continue/", data)


def test_accepting_offers_two_factor_and_lands_on_the_dashboard_without_it(
    client, admin_user, settings
):
    settings.MFA_POLICY = "managers"
    page = open_invitation(client, admin_user, ["viewer"]).content.decode()
    assert "Set up two-factor authentication now" in page
    response = accept(client)
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_ticking_two_factor_goes_to_enrolment_then_to_the_dashboard(client, admin_user, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.MFA_POLICY = "managers"
    open_invitation(client, admin_user, ["viewer"])
    response = accept(client, setup_mfa="on")
    assert response["Location"] == "/account/mfa/setup/?next=%2F"
    assert client.get(response["Location"]).status_code == 200
    device = TOTPDevice.objects.get(user__email="ana@example.com")
    response = client.post("/account/mfa/setup/?next=/", {"code": code_for(device)})
    assert response["Location"] == "/account/mfa/recovery-codes/?next=%2F"
    response = client.post(response["Location"])
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_roles_that_require_two_factor_send_the_new_user_to_enrolment(client, admin_user, settings):
    from rbac.models import Role

    settings.MFA_POLICY = "managers"
    Role.objects.create(slug="support", name="Support", permissions=["users:read", "users:update"])
    page = open_invitation(client, admin_user, ["support"]).content.decode()
    assert "Your role requires two-factor authentication" in page
    assert "Set up two-factor authentication now" not in page
    response = accept(client)
    assert response["Location"] == "/account/mfa/setup/?next=%2F"
    # The policy holds them there: nothing else until enrolled.
    response = client.get("/users/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/setup/")
