"""Who must use MFA, Django admin's OTP requirement, and re-authentication
for sensitive actions."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import UserSession
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import code_for, enrol, sign_in
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def test_admin_without_a_device_is_sent_to_enrolment_and_reaches_nothing_else(admin_user, settings):
    settings.MFA_POLICY = "managers"
    client = sign_in("admin@example.com")
    assert client.session["_auth_user_id"] == str(admin_user.pk)
    for path in ("/", "/account/", f"/users/{admin_user.pk}/security/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/account/mfa/setup/?next="), path
    htmx = client.get("/account/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"].startswith("/account/mfa/setup/")
    page = client.get("/account/mfa/setup/?next=/")
    assert page.status_code == 200
    assert "Your role requires two-factor authentication" in page.content.decode()
    # Signing out is still possible.
    assert client.post("/logout/").status_code == 302


def test_owner_is_sent_to_enrolment_after_sign_in_and_then_to_the_overview(owner, settings):
    settings.MFA_POLICY = "managers"
    client = sign_in("owner@example.com")
    response = client.get("/")
    assert response["Location"] == "/account/mfa/setup/?next=%2F"
    client.get("/account/mfa/setup/?next=/")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=owner)
    done = client.post("/account/mfa/setup/", {"code": code_for(device), "next": "/"})
    assert done["Location"] == "/account/mfa/recovery-codes/?next=%2F"
    assert client.post("/account/mfa/recovery-codes/", {"next": "/"})["Location"] == "/"
    assert client.get("/").status_code == 200


def test_members_without_management_permissions_need_no_mfa(member, settings):
    settings.MFA_POLICY = "managers"
    assert sign_in("member@example.com").get("/").status_code == 200


def test_policy_everyone_requires_mfa_of_members_too(member, settings):
    settings.MFA_POLICY = "everyone"
    response = sign_in("member@example.com").get("/")
    assert response["Location"].startswith("/account/mfa/setup/")


def test_policy_none_requires_nobody(admin_user, settings):
    settings.MFA_POLICY = "none"
    assert sign_in("admin@example.com").get("/").status_code == 200


def test_a_session_started_without_the_code_step_is_sent_to_it(member, client_for, settings):
    settings.MFA_POLICY = "none"
    device, _ = enrol(member)
    client = client_for(member)  # e.g. a sign-in path that skipped the code
    response = client.get("/")
    assert response["Location"] == "/login/mfa/?next=%2F"
    page = client.get("/login/mfa/?next=/")
    assert page.status_code == 200
    done = client.post("/login/mfa/?next=/", {"otp_token": code_for(device, offset_steps=1)})
    assert done["Location"] == "/"
    assert client.get("/").status_code == 200


# --- Django admin --------------------------------------------------------------------


def test_django_admin_refuses_an_unverified_session(owner, client_for, settings):
    settings.MFA_POLICY = "none"  # even where the policy would not ask for it
    client = client_for(owner)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_django_admin_opens_for_an_otp_verified_session(owner, settings):
    settings.MFA_POLICY = "managers"
    device, _ = enrol(owner)
    client = sign_in("owner@example.com")
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert client.get("/admin/").status_code == 200


# --- re-authentication ------------------------------------------------------------


def _signed_in_with_mfa(user):
    device, codes = enrol(user)
    client = sign_in(user.email)
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    return client, device, codes


def test_re_authentication_is_needed_after_the_window_and_returns_to_the_action(member, settings):
    settings.MFA_POLICY = "none"
    client, device, codes = _signed_in_with_mfa(member)
    url = "/account/mfa/recovery-codes/regenerate/"
    # Just signed in: within the 10-minute window.
    assert client.get(url).status_code == 200

    eleven_minutes_on = timezone.now() + timedelta(minutes=11)
    with mock.patch("accounts.services.sessions.timezone.now", return_value=eleven_minutes_on):
        response = client.get(url)
        assert response.status_code == 302
        assert (
            response["Location"]
            == "/account/reauthenticate/?next=%2Faccount%2Fmfa%2Frecovery-codes%2Fregenerate%2F"
        )
        posted = client.post(url)
        assert posted["Location"] == response["Location"]

        wrong = client.post(
            "/account/reauthenticate/",
            {"password": "wrong-password-1", "code": codes[0], "next": url},
        )
        assert wrong.status_code == 400
        assert "That password is not right." in wrong.content.decode()
        no_code = client.post(
            "/account/reauthenticate/", {"password": STRONG_PASSWORD, "code": "", "next": url}
        )
        assert no_code.status_code == 400

        ok = client.post(
            "/account/reauthenticate/",
            {"password": STRONG_PASSWORD, "code": codes[1], "next": url},
        )
        assert ok.status_code == 302 and ok["Location"] == url
        assert client.get(url).status_code == 200
    event = AuditEvent.objects.filter(action="accounts.session.reauthenticated").get()
    assert event.changes == {"method": "password+recovery_code"}


def test_a_session_never_re_authenticated_must_do_so(member, client_for, settings):
    settings.MFA_POLICY = "none"
    enrol(member)
    client = client_for(member)
    UserSession.objects.all().delete()
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=member).persistent_id
    session.save()
    response = client.get("/account/mfa/recovery-codes/regenerate/")
    assert response["Location"].startswith("/account/reauthenticate/")


def test_removing_your_own_factor_after_re_authenticating(member, settings):
    settings.MFA_POLICY = "none"
    client, device, _ = _signed_in_with_mfa(member)
    url = f"/account/mfa/totp-{device.pk}/remove/"
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert not TOTPDevice.objects.filter(user=member).exists()
    event = AuditEvent.objects.get(action="accounts.mfa.removed")
    assert event.actor_id == member.pk and event.reason == ""
    # Back to password only.
    fresh = Client()
    fresh.post("/login/", {"email": member.email, "password": STRONG_PASSWORD})
    assert fresh.get("/").status_code == 200


def test_a_manager_sent_to_enrolment_after_the_window_confirms_the_password_first(
    admin_user, settings
):
    """Setting up a factor needs a fresh proof (issue 23); the page that
    asks for it stays reachable for someone the policy holds at enrolment."""
    settings.MFA_POLICY = "managers"
    client = sign_in("admin@example.com")
    UserSession.objects.filter(user=admin_user).update(
        reauthenticated_at=timezone.now() - timedelta(hours=1)
    )
    to_setup = client.get("/")
    assert to_setup["Location"] == "/account/mfa/setup/?next=%2F"
    to_reauth = client.get(to_setup["Location"])
    assert to_reauth["Location"].startswith("/account/reauthenticate/?next=")
    assert client.get(to_reauth["Location"]).status_code == 200
    back = client.post(to_reauth["Location"], {"password": STRONG_PASSWORD})
    assert back["Location"] == "/account/mfa/setup/?next=%2F"
    assert client.get(back["Location"]).status_code == 200
