"""Account changes that cross areas: your own email change (re-auth,
notices, verification), a forced password change after sign-in, the
verification email for new users."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import OneTimeToken, OutboundEmail, TokenPurpose, User
from accounts.services import account as account_services
from accounts.services import users as user_services
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import code_for, enrol, sign_in
from tests.conftest import STRONG_PASSWORD, reauthenticate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_mfa_policy")]

NEW_PASSWORD = "Another-Strong-Pass-77"


def emails(**filters):
    return list(OutboundEmail.objects.filter(**filters).order_by("created_at"))


# --- your own email address -------------------------------------------------------


def test_changing_your_email_marks_it_unverified_tells_the_old_address_and_verifies_the_new(
    alice,
):
    OutboundEmail.objects.all().delete()
    user = account_services.account_email_change(actor=alice, new_email="Alice.New@Example.com")
    assert user.email == "alice.new@example.com"
    assert User.objects.get(pk=alice.pk).email_verified_at is None
    [notice] = emails(to="alice@example.com")
    assert notice.template == "email_changed"
    assert "alice.new@example.com" in notice.body_text
    [verify] = emails(to="alice.new@example.com")
    assert verify.template == "email_verify"
    assert OneTimeToken.objects.filter(
        user=alice, purpose=TokenPurpose.EMAIL_VERIFY, used_at__isnull=True
    ).exists()
    [event] = AuditEvent.objects.filter(action="accounts.email.changed")
    assert event.changes == {
        "email": ["alice@example.com", "alice.new@example.com"],
        "email_verified": [True, False],
    }


def test_changing_your_email_to_one_in_use_is_refused(alice, member):
    with pytest.raises(ValidationError) as exc:
        account_services.account_email_change(actor=alice, new_email="MEMBER@example.com")
    assert exc.value.message_dict == {"new_email": ["A user with this email already exists."]}
    assert User.objects.get(pk=alice.pk).email == "alice@example.com"


def test_changing_your_email_to_the_same_address_does_nothing(alice):
    OutboundEmail.objects.all().delete()
    account_services.account_email_change(actor=alice, new_email="ALICE@example.com")
    assert not OutboundEmail.objects.exists()
    assert not AuditEvent.objects.filter(action="accounts.email.changed").exists()


def test_email_change_page_requires_recent_re_authentication(alice):
    client = sign_in("alice@example.com")
    reauthenticate(client, minutes_ago=11)
    response = client.post("/account/email/", {"new_email": "evil@example.com"})
    assert response["Location"] == "/account/reauthenticate/?next=%2Faccount%2Femail%2F"
    assert User.objects.get(pk=alice.pk).email == "alice@example.com"


def test_email_change_with_an_authenticator_asks_for_a_code_too(alice):
    device, recovery_codes = enrol(alice)
    client = sign_in("alice@example.com")
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    reauthenticate(client, minutes_ago=11)
    response = client.get("/account/email/")
    assert response.status_code == 302
    response = client.post(
        "/account/reauthenticate/",
        {"password": STRONG_PASSWORD, "code": "", "next": "/account/email/"},
    )
    assert response.status_code == 400
    response = client.post(
        "/account/reauthenticate/",
        {"password": STRONG_PASSWORD, "code": recovery_codes[0], "next": "/account/email/"},
    )
    assert response["Location"] == "/account/email/"
    assert client.get("/account/email/").status_code == 200


def test_email_change_page_changes_it_and_shows_field_errors(alice, member):
    client = sign_in("alice@example.com")
    page = client.get("/account/")
    assert "Change email address" in page.content.decode()
    response = client.post("/account/email/", {"new_email": "member@example.com"})
    assert response.status_code == 400
    assert "A user with this email already exists." in response.content.decode()
    response = client.post("/account/email/", {"new_email": "not an email"})
    assert response.status_code == 400
    response = client.post("/account/email/", {"new_email": "alice2@example.com"})
    assert response["Location"] == "/account/"
    assert User.objects.get(pk=alice.pk).email == "alice2@example.com"
    assert "Not verified" in client.get("/account/").content.decode()


def test_admin_changing_an_email_also_sends_a_verification_link(admin_user, member):
    OutboundEmail.objects.all().delete()
    user_services.user_update(actor=admin_user, user=member, email="mona@example.com")
    assert [e.template for e in emails(to="member@example.com")] == ["email_changed"]
    assert [e.template for e in emails(to="mona@example.com")] == ["email_verify"]


# --- your own password -------------------------------------------------------------


def test_changing_your_password_requires_recent_re_authentication(alice):
    client = sign_in("alice@example.com")
    reauthenticate(client, minutes_ago=11)
    data = {
        "current_password": STRONG_PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
    }
    response = client.post("/account/password/", data)
    assert response["Location"] == "/account/reauthenticate/?next=%2Faccount%2Fpassword%2F"
    assert User.objects.get(pk=alice.pk).check_password(STRONG_PASSWORD)


def test_changing_your_password_sends_one_security_notice(alice):
    OutboundEmail.objects.all().delete()
    account_services.account_password_change(
        actor=alice,
        current_password=STRONG_PASSWORD,
        new_password=NEW_PASSWORD,
        keep_session_key="here",
    )
    [notice] = emails()
    assert notice.to == "alice@example.com"
    assert notice.template == "security_notice"
    assert notice.subject == "Security notice: Your password was changed"
    assert "Your other sessions were signed out." in notice.body_text


# --- forced password change ----------------------------------------------------------


def test_a_user_forced_to_change_password_reaches_nothing_else_until_they_do(admin_user, alice):
    user_services.user_force_password_change(actor=admin_user, user=alice)
    client = sign_in("alice@example.com")
    for url in ("/", "/account/", "/users/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/password/?next=")
    response = client.get("/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/account/password/?next=%2F"
    page = client.get("/account/password/?next=/account/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "An administrator asked you to choose a new password before you continue." in html
    response = client.post(
        "/account/password/",
        {
            "standalone": "1",
            "next": "/account/",
            "current_password": STRONG_PASSWORD,
            "new_password": "short",
            "new_password_again": "short",
        },
    )
    assert response.status_code == 400
    assert "Choose a new password" in response.content.decode()
    response = client.post(
        "/account/password/",
        {
            "standalone": "1",
            "next": "/account/",
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200
    alice.refresh_from_db()
    assert not alice.must_change_password
    event = AuditEvent.objects.filter(action="accounts.password.changed").get()
    assert event.changes["forced_change"] == [True, False]


def test_a_forced_password_change_comes_after_the_code_step(admin_user, alice):
    device, _ = enrol(alice)
    user_services.user_force_password_change(actor=admin_user, user=alice)
    client = sign_in("alice@example.com")
    response = client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"].startswith("/account/password/?next=")


def test_a_forced_user_can_still_sign_out(admin_user, alice):
    user_services.user_force_password_change(actor=admin_user, user=alice)
    client = sign_in("alice@example.com")
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- verification email for new users ---------------------------------------------


def test_creating_a_user_without_auto_confirm_emails_a_verification_link(admin_user):
    OutboundEmail.objects.all().delete()
    user = user_services.user_create(
        actor=admin_user, email="new@example.com", password=STRONG_PASSWORD
    )
    [email] = emails()
    assert (email.to, email.template, email.user_id) == ("new@example.com", "email_verify", user.pk)
    assert user.email_verified_at is None


def test_creating_a_user_with_auto_confirm_or_without_password_sends_nothing(admin_user):
    OutboundEmail.objects.all().delete()
    user_services.user_create(
        actor=admin_user, email="a@example.com", password=STRONG_PASSWORD, auto_confirm=True
    )
    user_services.user_create(actor=admin_user, email="b@example.com")
    assert not OutboundEmail.objects.exists()


def test_the_create_page_and_the_api_both_send_the_verification_link(client_for, admin_user):
    from accounts.services.api_keys import api_key_create

    OutboundEmail.objects.all().delete()
    client_for(admin_user).post(
        "/users/new/",
        {"mode": "password", "email": "page@example.com", "password": STRONG_PASSWORD},
    )
    _key, raw = api_key_create(actor=admin_user, name="k", template="full_access")
    from django.test import Client

    response = Client().post(
        "/api/admin/users",
        {"email": "api@example.com", "password": STRONG_PASSWORD},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 201, response.content
    assert sorted(e.to for e in emails(template="email_verify")) == [
        "api@example.com",
        "page@example.com",
    ]
