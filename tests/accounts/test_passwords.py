"""Passwords, reset links, sign-in links, verification and the tokens
behind them."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import OneTimeToken, OutboundEmail, TokenPurpose, UserSession
from accounts.services import passwords, tokens, verification
from accounts.services.sealing import unseal
from audit.models import AuditEvent
from rbac.policies import PolicyDenied
from tests.conftest import make_user

NEW_PASSWORD = "Another-Sturdy-Passphrase-77"


def reset_token(link: str) -> str:
    return re.search(r"/password/reset/([^/]+)/", link).group(1)


def open_session(client, user):
    client.force_login(user, backend="accounts.backends.EmailBackend")
    UserSession.objects.create(session_key=client.session.session_key, user=user)
    return client.session.session_key


# --- tokens -----------------------------------------------------------------


def test_tokens_carry_at_least_128_bits():
    token, digest = tokens.new_token()
    assert len(token) * 6 >= 128  # url-safe base64: 6 bits a character
    assert math.log2(64) * len(token) >= 256
    assert digest == tokens.hash_token(token) and len(digest) == 64
    assert len({tokens.new_token()[0] for _ in range(1000)}) == 1000


@pytest.mark.django_db
def test_token_is_single_use(member):
    token, _ = tokens.token_issue(user=member, purpose=TokenPurpose.PASSWORD_RESET)
    tokens.token_consume(token=token, purpose=TokenPurpose.PASSWORD_RESET)
    with pytest.raises(tokens.TokenInvalid) as exc:
        tokens.token_consume(token=token, purpose=TokenPurpose.PASSWORD_RESET)
    assert exc.value.reason == "used"


@pytest.mark.django_db
def test_token_for_one_purpose_does_not_open_another(member):
    token, _ = tokens.token_issue(user=member, purpose=TokenPurpose.EMAIL_VERIFY)
    with pytest.raises(tokens.TokenInvalid):
        tokens.token_consume(token=token, purpose=TokenPurpose.PASSWORD_RESET)


@pytest.mark.django_db
def test_token_expires_exactly_at_its_boundary(member):
    start = timezone.now()
    with mock.patch("accounts.services.tokens._now", return_value=start):
        token, row = tokens.token_issue(user=member, purpose=TokenPurpose.MAGIC_LINK)
    assert row.expires_at == start + timedelta(minutes=15)
    just_before = row.expires_at - timedelta(microseconds=1)
    with mock.patch("accounts.services.tokens._now", return_value=just_before):
        tokens.token_peek(token=token, purpose=TokenPurpose.MAGIC_LINK)
    with (
        mock.patch("accounts.services.tokens._now", return_value=row.expires_at),
        pytest.raises(tokens.TokenInvalid) as exc,
    ):
        tokens.token_consume(token=token, purpose=TokenPurpose.MAGIC_LINK)
    assert exc.value.reason == "expired"


@pytest.mark.django_db
def test_reset_token_lives_24_hours(member):
    _, row = tokens.token_issue(user=member, purpose=TokenPurpose.PASSWORD_RESET)
    assert row.expires_at - row.created_at == timedelta(hours=24)


@pytest.mark.django_db
def test_token_dies_after_a_password_change(admin_user, member):
    token, _ = tokens.token_issue(user=member, purpose=TokenPurpose.PASSWORD_RESET)
    passwords.password_set_by_admin(actor=admin_user, user=member, password=NEW_PASSWORD)
    with pytest.raises(tokens.TokenInvalid):
        tokens.token_peek(token=token, purpose=TokenPurpose.PASSWORD_RESET)


@pytest.mark.django_db
def test_token_dies_after_a_password_change_made_elsewhere(member):
    """Even a change that forgot to revoke tokens makes older ones unusable."""
    token, _ = tokens.token_issue(user=member, purpose=TokenPurpose.MAGIC_LINK)
    type(member).objects.filter(pk=member.pk).update(
        password_changed_at=timezone.now() + timedelta(seconds=1)
    )
    with pytest.raises(tokens.TokenInvalid):
        tokens.token_peek(token=token, purpose=TokenPurpose.MAGIC_LINK)


@pytest.mark.parametrize(
    "change",
    [
        {"banned_until": timezone.now() + timedelta(days=3650)},
        {"disabled_at": timezone.now()},
        {"deleted_at": timezone.now()},
    ],
    ids=["ban", "disable", "delete"],
)
@pytest.mark.django_db
def test_token_is_dead_for_a_banned_disabled_or_deleted_user(member, change):
    token, _ = tokens.token_issue(user=member, purpose=TokenPurpose.PASSWORD_RESET)
    type(member).objects.filter(pk=member.pk).update(**change)
    with pytest.raises(tokens.TokenInvalid) as exc:
        tokens.token_consume(token=token, purpose=TokenPurpose.PASSWORD_RESET)
    assert exc.value.reason == "inactive"
    # And the services that ban/disable/delete call tokens_revoke_all:
    type(member).objects.filter(pk=member.pk).update(
        banned_until=None, disabled_at=None, deleted_at=None
    )
    assert tokens.tokens_revoke_all(member) == 1
    with pytest.raises(tokens.TokenInvalid) as exc:
        tokens.token_consume(token=token, purpose=TokenPurpose.PASSWORD_RESET)
    assert exc.value.reason == "used"


@pytest.mark.django_db
def test_only_token_hashes_are_stored(admin_user, member):
    result = passwords.password_reset_token_create(actor=admin_user, user=member, send_email=True)
    row = OneTimeToken.objects.get(user=member)
    assert row.token_hash == tokens.hash_token(result["token"])
    assert result["token"] not in row.token_hash
    email = OutboundEmail.objects.get(template="password_reset")
    assert result["token"] not in email.body_text + email.body_html
    assert result["token"] in unseal(email.body_text)
    assert not AuditEvent.objects.filter(changes__icontains=result["token"]).exists()


# --- administrator actions ----------------------------------------------------


@pytest.mark.django_db
def test_admin_sets_a_password_ends_sessions_and_tells_the_user(admin_user, member, client):
    open_session(client, member)
    passwords.password_set_by_admin(actor=admin_user, user=member, password=NEW_PASSWORD)
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert UserSession.objects.get(user=member).ended_at is not None
    assert client.get("/").status_code == 302  # signed out
    notice = OutboundEmail.objects.get(user=member, template="security_notice")
    assert notice.subject == (
        "Security notice: An administrator set a new password for your account"
    )
    assert "Adam Admin set a new password" in notice.body_text
    event = AuditEvent.objects.get(action="accounts.password.set_by_admin")
    assert event.changes["password"] == "[redacted]"


@pytest.mark.django_db
def test_admin_cannot_set_the_owners_password(admin_user, owner):
    with pytest.raises(PolicyDenied, match="The owner cannot be reset."):
        passwords.password_set_by_admin(actor=admin_user, user=owner, password=NEW_PASSWORD)


@pytest.mark.django_db
def test_set_password_needs_users_reset_password(editor, member):
    with pytest.raises(PolicyDenied, match="You need the permission users:reset-password"):
        passwords.password_set_by_admin(actor=editor, user=member, password=NEW_PASSWORD)


@pytest.mark.django_db
def test_admin_set_password_is_validated(admin_user, member):
    with pytest.raises(ValidationError):
        passwords.password_set_by_admin(actor=admin_user, user=member, password="password")


@pytest.mark.django_db
def test_reset_link_returns_token_expiry_and_link(admin_user, member):
    result = passwords.password_reset_token_create(actor=admin_user, user=member)
    assert set(result) == {"token", "expires_at", "link"}
    assert result["link"] == f"http://testserver/password/reset/{result['token']}/"
    assert result["expires_at"] - timezone.now() > timedelta(hours=23, minutes=59)
    assert not OutboundEmail.objects.filter(template="password_reset").exists()


@pytest.mark.django_db
def test_magic_link_is_returned_and_emailed(admin_user, member):
    link = passwords.magic_link_send(actor=admin_user, user=member, type="signup")
    assert link.startswith("http://testserver/magic/")
    email = OutboundEmail.objects.get(template="magic_link_signup")
    assert link in unseal(email.body_text)
    row = OneTimeToken.objects.get(purpose="magic_link")
    assert row.expires_at - row.created_at == timedelta(minutes=15)
    recovery = passwords.magic_link_send(actor=admin_user, user=member, type="recovery")
    assert "/password/reset/" in recovery


@pytest.mark.django_db
def test_magic_link_type_must_be_known(admin_user, member):
    with pytest.raises(ValidationError, match="Unknown link type"):
        passwords.magic_link_send(actor=admin_user, user=member, type="teleport")


@pytest.mark.django_db
def test_invite_magic_link_for_a_pending_user_resends_the_invitation(admin_user):
    from accounts.services.invitations import invitation_create

    invitation, old = invitation_create(actor=admin_user, email="ana@example.com")
    link = passwords.magic_link_send(actor=admin_user, user=invitation.user, type="invite")
    assert "/invite/" in link and link != old


@pytest.mark.django_db
def test_magic_link_signs_in_once(admin_user, member, client):
    link = passwords.magic_link_send(actor=admin_user, user=member, type="signup")
    path = link.replace("http://testserver", "")
    assert client.get(path)["Location"] == "/magic/continue/"
    response = client.post("/magic/continue/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(member.pk)
    client.logout()
    client.get(path)
    assert "already used" in client.get("/magic/continue/").content.decode()


@pytest.mark.django_db
def test_magic_link_never_bypasses_mfa(admin_user, member, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=member, name="phone", confirmed=True)
    link = passwords.magic_link_send(actor=admin_user, user=member, type="signup")
    client.get(link.replace("http://testserver", ""))
    response = client.post("/magic/continue/")
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


# --- self-service ---------------------------------------------------------------


@pytest.mark.django_db
def test_reset_flow_token_to_session_new_password_sessions_ended(admin_user, member, client):
    from django.test import Client

    elsewhere = Client()
    open_session(elsewhere, member)
    link = passwords.password_reset_token_create(actor=admin_user, user=member)["link"]
    path = link.replace("http://testserver", "")
    response = client.get(path)
    assert response["Location"] == "/password/reset/continue/"
    page = client.get("/password/reset/continue/")
    assert reset_token(link) not in page.content.decode()
    response = client.post(
        "/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/login/"
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert "_auth_user_id" not in client.session  # never signed in by a reset
    assert elsewhere.get("/").status_code == 302
    assert not OneTimeToken.objects.filter(user=member, used_at__isnull=True).exists()
    assert OutboundEmail.objects.filter(template="security_notice", user=member).exists()


@pytest.mark.django_db
def test_reset_passwords_must_match(admin_user, member, client):
    link = passwords.password_reset_token_create(actor=admin_user, user=member)["link"]
    client.get(link.replace("http://testserver", ""))
    response = client.post(
        "/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert "The two passwords do not match." in response.content.decode()


def _without_csrf(response) -> str:
    """The page with its (randomly masked, per-response) CSRF token blanked."""
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", response.content.decode())


def _forgot(client, email):
    return client.post("/password/forgot/", {"email": email}, REMOTE_ADDR="10.0.0.1")


@pytest.mark.django_db
def test_forgot_password_answers_the_same_for_known_and_unknown(
    member, client, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        known = _forgot(client, "member@example.com")
        unknown = _forgot(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert _without_csrf(known) == _without_csrf(unknown)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["member@example.com"]


@pytest.mark.django_db
def test_forgot_password_answers_the_same_when_smtp_fails(
    member, client, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    baseline = _forgot(client, "nobody@example.com")
    settings.EMAIL_BACKEND = "tests.accounts.test_emails.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        failing = _forgot(client, "member@example.com")
    assert failing.status_code == baseline.status_code == 200
    assert _without_csrf(failing) == _without_csrf(baseline)
    assert OutboundEmail.objects.get(template="password_reset").last_error


@pytest.mark.django_db
def test_forgot_password_is_rate_limited_per_email_and_per_ip(member, client, settings):
    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    settings.PASSWORD_FORGOT_LIMIT_PER_EMAIL = 2
    settings.PASSWORD_FORGOT_LIMIT_PER_IP = 4
    from django.core.cache import cache

    cache.clear()
    assert _forgot(client, "member@example.com").status_code == 200
    assert _forgot(client, "MEMBER@example.com").status_code == 200
    limited = _forgot(client, "member@example.com")
    assert limited.status_code == 429
    assert "Too many reset requests" in limited.content.decode()
    assert OneTimeToken.objects.filter(user=member).count() == 2
    # Per IP, whatever the address:
    assert _forgot(client, "a@example.com").status_code == 200
    assert _forgot(client, "b@example.com").status_code == 429
    cache.clear()


@pytest.mark.django_db
def test_forgot_password_timing_is_padded(member, client, settings):
    import time

    settings.PASSWORD_FORGOT_MIN_SECONDS = 0.2
    started = time.monotonic()
    _forgot(client, "nobody@example.com")
    assert time.monotonic() - started >= 0.2


@pytest.mark.django_db
def test_reset_never_bypasses_mfa(admin_user, member, client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=member, name="phone", confirmed=True)
    link = passwords.password_reset_token_create(actor=admin_user, user=member)["link"]
    client.get(link.replace("http://testserver", ""))
    client.post("/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert TOTPDevice.objects.filter(user=member, confirmed=True).exists()


@pytest.mark.django_db
def test_email_verification_link_confirms_the_address(client, builtin_roles):
    user = make_user("new@example.com", email_verified_at=None)
    link = verification.email_verification_send(user=user)
    response = client.get(link.replace("http://testserver", ""), follow=True)
    assert "Email address confirmed" in response.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert AuditEvent.objects.filter(action="accounts.email.verified").exists()


@pytest.mark.django_db
def test_credentials_pages_show_the_reset_link_once(client_for, admin_user, member):
    client = client_for(admin_user)
    response = client.post(f"/users/{member.pk}/credentials/reset-link/", {"send_email": "1"})
    body = response.content.decode()
    assert "This link is shown <strong>once</strong>" in body
    assert "/password/reset/" in body
    assert OutboundEmail.objects.filter(template="password_reset", user=member).exists()
    response = client.post(f"/users/{member.pk}/credentials/magic-link/", {"type": "signup"})
    assert "/magic/" in response.content.decode()
    response = client.post(
        f"/users/{member.pk}/credentials/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_credentials_actions_are_denied_with_the_reason(client_for, admin_user, owner):
    response = client_for(admin_user).post(f"/users/{owner.pk}/credentials/reset-link/")
    assert response.status_code == 403
    assert "The owner cannot be reset." in response.content.decode()
