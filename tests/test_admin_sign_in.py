"""One sign-in door: Django admin signs people in through the dashboard's
sign-in (password, then the code step, with its audit events and lockout),
never through a form of its own."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import code_for, enrol
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


def test_admin_login_sends_you_to_the_dashboard_sign_in_with_next():
    response = Client().get(f"/admin/login/?next={quote(CHANGELIST)}")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={quote(CHANGELIST, safe='')}"


def test_admin_login_without_next_comes_back_to_the_admin_index():
    response = Client().get("/admin/login/")
    assert response["Location"] == f"/login/?next={quote('/admin/', safe='')}"


def test_admin_login_refuses_a_foreign_next():
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == f"/login/?next={quote('/admin/', safe='')}"


def test_a_password_posted_to_admin_login_signs_nobody_in(owner):
    client = Client()
    response = client.post(
        "/admin/login/", {"username": owner.email, "password": STRONG_PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="accounts.login.succeeded").exists()


def test_admin_sign_in_is_password_then_code_then_back_to_next(owner, settings):
    settings.MFA_POLICY = "managers"
    device, _codes = enrol(owner)
    client = Client()
    to_admin = client.get(CHANGELIST)
    assert to_admin["Location"].startswith("/admin/login/")
    to_login = client.get(to_admin["Location"])
    assert to_login["Location"] == f"/login/?next={quote(CHANGELIST, safe='')}"
    assert "Django admin uses this sign-in" in client.get(to_login["Location"]).content.decode()

    step_one = client.post(
        to_login["Location"], {"email": owner.email, "password": STRONG_PASSWORD}
    )
    assert step_one["Location"] == "/login/mfa/"
    wrong_code = "000000" if code_for(device) != "000000" else "111111"
    wrong = client.post("/login/mfa/", {"otp_token": wrong_code})
    assert wrong.status_code == 200
    failed = AuditEvent.objects.filter(action="accounts.login.failed", target_id=str(owner.pk))
    assert failed.get().reason == "Wrong code."
    assert AccessAttempt.objects.get(username=owner.email).failures_since_start == 1

    time.sleep(1.1)  # past django-otp's throttle after the wrong code
    done = client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert done["Location"] == CHANGELIST
    assert client.get(CHANGELIST).status_code == 200
    assert AuditEvent.objects.filter(action="accounts.login.succeeded", actor_id=owner.pk).exists()


def test_a_verified_operator_at_admin_login_goes_straight_to_next(owner, client_for):
    client = client_for(owner)  # OTP-verified (the owner must use MFA)
    response = client.get(f"/admin/login/?next={quote(CHANGELIST)}")
    assert response["Location"] == CHANGELIST
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_unverified_user_with_an_authenticator_is_sent_to_the_code_step(
    owner, client_for, settings
):
    settings.MFA_POLICY = "none"
    device, _codes = enrol(owner)
    client = client_for(owner, verified=False)
    to_code = client.get("/admin/login/?next=/admin/")
    assert to_code["Location"].startswith("/login/mfa/?next=")
    code = client.post(to_code["Location"], {"otp_token": code_for(device, offset_steps=1)})
    assert client.get(code["Location"])["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_user_without_an_authenticator_is_told_how_to_set_one_up(owner, client_for, settings):
    settings.MFA_POLICY = "none"
    client = client_for(owner, verified=False)
    to_login = client.get("/admin/")
    response = client.get(to_login["Location"])
    assert response.status_code == 403
    text = response.content.decode()
    assert "Django admin needs two-factor authentication" in text
    assert 'href="/account/"' in text
    assert "Please select a device" not in text


def test_a_signed_in_user_without_admin_access_is_told_so(member, client_for):
    client = client_for(member)
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403
    assert "Your account has no access to Django admin" in response.content.decode()
    denied = AuditEvent.objects.get(action="rbac.page.denied", actor_id=member.pk)
    assert denied.outcome == "denied"
    assert denied.reason == (
        "permission_denied: Django admin (/admin/) needs a management permission"
    )


def test_admin_password_change_is_the_account_page(owner, client_for):
    client = client_for(owner)
    response = client.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/account/password/"
    posted = client.post(
        "/admin/password_change/",
        {
            "old_password": STRONG_PASSWORD,
            "new_password1": "an0ther-Long-passphrase",
            "new_password2": "an0ther-Long-passphrase",
        },
    )
    assert posted.status_code == 302 and posted["Location"] == "/account/password/"
    assert User.objects.get(pk=owner.pk).check_password(STRONG_PASSWORD)
    assert client.get("/admin/password_change/done/")["Location"] == "/account/password/"


def test_admin_sign_out_is_the_dashboard_sign_out(owner, client_for):
    client = client_for(owner)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert AuditEvent.objects.filter(action="accounts.logout", actor_id=owner.pk).exists()
    assert client.get("/admin/logout/")["Location"] in ("/logout/", "/admin/")
