"""Sign-in and sign-out: the rules of issue #2, each test named after one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.views.auth import GENERIC_LOGIN_ERROR
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def post_login(client, email, password, **extra):
    return client.post(LOGIN, {"email": email, "password": password, **extra})


def events(action=None):
    qs = AuditEvent.objects.order_by("id")
    return list(qs.filter(action=action) if action else qs)


def test_sign_in_with_correct_password_redirects_to_overview(client, owner, settings):
    # About the password step; MFA enforcement for the owner (a manager
    # without a device) is tested in tests/accounts/test_mfa_policy.py.
    settings.MFA_POLICY = "none"
    response = post_login(client, "owner@example.com", STRONG_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("overview")
    assert client.get("/").status_code == 200
    [event] = events()
    assert event.action == "accounts.login.succeeded"
    assert event.actor_id == owner.pk
    assert event.outcome == "success"
    assert event.ip == "127.0.0.1"


def test_sign_in_starts_a_new_session_key(client, owner):
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key
    post_login(client, "owner@example.com", STRONG_PASSWORD)
    assert client.session.session_key != before


def test_wrong_password_and_unknown_email_get_the_same_answer(client, owner):
    wrong = post_login(client, "owner@example.com", "not-the-password-1")
    unknown = post_login(client, "nobody@example.com", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert GENERIC_LOGIN_ERROR in response.content.decode()
    assert [e.action for e in events()] == ["accounts.login.failed", "accounts.login.failed"]
    assert [e.outcome for e in events()] == ["failed", "failed"]


def test_lockout_after_ten_failures_refuses_the_correct_password(client, owner):
    for _ in range(10):
        post_login(client, "owner@example.com", "wrong-password-xx")
    response = post_login(client, "owner@example.com", STRONG_PASSWORD)
    assert response.status_code == 200
    assert GENERIC_LOGIN_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert len(events("accounts.login.failed")) == 9
    # the 10th failure locks; the correct password while locked is recorded too
    assert len(events("accounts.login.locked_out")) == 2
    assert len(events()) == 11


def test_email_case_variants_share_one_lockout_counter(client, owner):
    variants = ["owner@example.com", "OWNER@example.com", " Owner@Example.COM "]
    for i in range(10):
        post_login(client, variants[i % 3], "wrong-password-xx")
    post_login(client, "owner@EXAMPLE.com", STRONG_PASSWORD)
    assert "_auth_user_id" not in client.session


def test_lockout_does_not_affect_other_accounts(client, owner, admin_user):
    for _ in range(10):
        post_login(client, "owner@example.com", "wrong-password-xx")
    post_login(client, "admin@example.com", STRONG_PASSWORD)
    assert client.session["_auth_user_id"] == str(admin_user.pk)


@pytest.mark.parametrize(
    "field,value",
    [
        ("disabled_at", timezone.now),
        ("banned_until", lambda: timezone.now() + timedelta(days=1)),
        ("deleted_at", timezone.now),
    ],
)
def test_disabled_banned_and_deleted_users_cannot_sign_in(client, owner, field, value):
    make_user("blocked@example.com", **{field: value()})
    response = post_login(client, "blocked@example.com", STRONG_PASSWORD)
    assert GENERIC_LOGIN_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session
    [event] = events()
    assert event.action == "accounts.login.failed"
    assert event.reason.startswith("Account is ")


def test_expired_ban_no_longer_blocks_sign_in(client, owner):
    make_user("was-banned@example.com", banned_until=timezone.now() - timedelta(minutes=1))
    post_login(client, "was-banned@example.com", STRONG_PASSWORD)
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "http://testserver.evil.example/"]
)
def test_open_redirect_in_next_is_ignored(client, owner, target):
    response = post_login(client, "owner@example.com", STRONG_PASSWORD, next=target)
    assert response["Location"] == reverse("overview")


def test_next_on_this_site_is_followed(client, owner):
    response = post_login(client, "owner@example.com", STRONG_PASSWORD, next="/healthz")
    assert response["Location"] == "/healthz"


def test_sign_out_ends_the_session_on_the_server(client, owner):
    post_login(client, "owner@example.com", STRONG_PASSWORD)
    key = client.session.session_key
    response = client.post("/logout/")
    assert response.status_code == 302
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=key).exists()
    assert events()[-1].action == "accounts.logout"
    assert client.get("/").status_code == 302


def test_sign_out_requires_post(client, owner):
    post_login(client, "owner@example.com", STRONG_PASSWORD)
    response = client.get("/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" in client.session


def test_overview_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_banned_user_is_signed_out_on_next_request(client, owner):
    user = make_user("later-banned@example.com")
    client.force_login(user, backend="accounts.backends.EmailBackend")
    assert client.get("/").status_code == 200
    type(user).objects.filter(pk=user.pk).update(banned_until=timezone.now() + timedelta(days=1))
    assert client.get("/").status_code == 302
