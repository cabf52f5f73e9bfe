"""Sessions: what is listed, ending one or all, and the account changes
that end them."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import UserSession
from accounts.services import sessions as session_services
from accounts.services.sessions import sessions_end_all
from rbac.policies import PolicyDenied
from tests.accounts.mfa_helpers import FIREFOX, SAFARI_IPHONE, events, sign_in
from tests.conftest import STRONG_PASSWORD

# These tests are about sessions; MFA enforcement has its own tests.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_mfa_policy")]


def test_session_list_shows_device_ip_times_and_marks_this_one(alice):
    laptop = sign_in("alice@example.com", user_agent=FIREFOX)
    sign_in("alice@example.com", user_agent=SAFARI_IPHONE)
    response = laptop.get("/account/")
    assert response.status_code == 200
    rows = response.context["sessions"]
    assert [r["device"] for r in rows] == ["Firefox 128 on Windows", "Mobile Safari 17 on iOS"]
    assert [r["current"] for r in rows] == [True, False]
    assert rows[0]["obj"].ip == "127.0.0.1"
    html = response.content.decode()
    assert "This session" in html
    assert "Mobile Safari 17 on iOS" in html
    assert "Sign out all other sessions" in html


def test_ending_one_session_signs_that_browser_out_on_its_next_request(alice):
    laptop = sign_in("alice@example.com", user_agent=FIREFOX)
    phone = sign_in("alice@example.com", user_agent=SAFARI_IPHONE)
    assert phone.get("/").status_code == 200
    target = UserSession.objects.get(user_agent=SAFARI_IPHONE)

    confirm = laptop.get(f"/account/sessions/{target.pk}/end/")
    assert confirm.status_code == 200
    assert "End this session?" in confirm.content.decode()
    response = laptop.post(f"/account/sessions/{target.pk}/end/")
    assert response.status_code == 302

    assert phone.get("/").status_code == 302  # signed out
    assert "_auth_user_id" not in phone.session
    assert laptop.get("/").status_code == 200
    target.refresh_from_db()
    assert target.ended_at is not None
    assert not Session.objects.filter(session_key=target.session_key).exists()
    [event] = events("accounts.session.revoked")
    assert event.actor_id == alice.pk
    assert event.changes["device"] == "Mobile Safari 17 on iOS"


def test_ending_all_other_sessions_keeps_this_one(alice):
    laptop = sign_in("alice@example.com", user_agent=FIREFOX)
    others = [sign_in("alice@example.com", user_agent=SAFARI_IPHONE) for _ in range(2)]
    response = laptop.post("/account/sessions/end-others/")
    assert response.status_code == 302
    for other in others:
        assert other.get("/").status_code == 302
    assert laptop.get("/").status_code == 200
    assert UserSession.objects.filter(user=alice, ended_at__isnull=True).count() == 1
    [event] = events("accounts.session.revoked_all")
    assert event.changes == {"sessions_ended": 2, "kept_current": True}


def test_you_cannot_end_someone_elses_session_from_your_account_page(alice, member):
    sign_in("member@example.com")
    theirs = UserSession.objects.get(user=member)
    client = sign_in("alice@example.com")
    assert client.post(f"/account/sessions/{theirs.pk}/end/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_at is None


def test_last_seen_is_written_at_most_once_a_minute(alice):
    client = sign_in("alice@example.com")
    record = UserSession.objects.get(user=alice)
    start = timezone.now()
    UserSession.objects.filter(pk=record.pk).update(last_seen_at=start - timedelta(hours=1))
    client.get("/")  # first request after sign-in: within the minute, no write
    record.refresh_from_db()
    assert record.last_seen_at == start - timedelta(hours=1)
    with mock.patch("accounts.middleware.time.time", return_value=start.timestamp() + 61):
        client.get("/")
    record.refresh_from_db()
    assert record.last_seen_at > start - timedelta(minutes=1)
    seen = record.last_seen_at
    with mock.patch("accounts.middleware.time.time", return_value=start.timestamp() + 90):
        client.get("/")
    record.refresh_from_db()
    assert record.last_seen_at == seen


def test_an_ended_session_record_is_refused_even_if_its_session_row_survives(alice):
    client = sign_in("alice@example.com")
    UserSession.objects.filter(user=alice).update(ended_at=timezone.now())
    with mock.patch("accounts.middleware.time.time", return_value=timezone.now().timestamp() + 61):
        assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "field,value",
    [
        ("banned_until", lambda: timezone.now() + timedelta(days=1)),
        ("disabled_at", timezone.now),
        ("deleted_at", timezone.now),
    ],
)
def test_sessions_end_when_the_user_is_banned_disabled_or_deleted(alice, field, value):
    first = sign_in("alice@example.com")
    second = sign_in("alice@example.com")
    type(alice).objects.filter(pk=alice.pk).update(**{field: value()})
    assert sessions_end_all(alice) == 2
    assert not UserSession.objects.filter(user=alice, ended_at__isnull=True).exists()
    for client in (first, second):
        assert client.get("/").status_code == 302
        assert "_auth_user_id" not in client.session


def test_sessions_end_when_the_password_is_reset(alice):
    other = sign_in("alice@example.com")
    alice.set_password("A-whole-new-Password-99")
    alice.save(update_fields=["password"])
    sessions_end_all(alice)
    assert other.get("/").status_code == 302
    assert sign_in("alice@example.com", "A-whole-new-Password-99").get("/").status_code == 200


def test_changing_your_password_ends_your_other_sessions(alice):
    here = sign_in("alice@example.com")
    there = sign_in("alice@example.com")
    response = here.post(
        "/account/password/",
        {
            "current_password": STRONG_PASSWORD,
            "new_password": "Another-Strong-Pass-77",
            "new_password_again": "Another-Strong-Pass-77",
        },
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    [event] = events("accounts.password.changed")
    assert event.changes == {"other_sessions_ended": 1}


def test_wrong_current_password_does_not_change_it(alice):
    client = sign_in("alice@example.com")
    response = client.post(
        "/account/password/",
        {
            "current_password": "not-it-at-all-1",
            "new_password": "Another-Strong-Pass-77",
            "new_password_again": "Another-Strong-Pass-77",
        },
    )
    assert response.status_code == 400
    assert "Your current password is not right." in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(STRONG_PASSWORD)


# --- administrators ------------------------------------------------------------


def test_admin_with_sessions_read_sees_a_users_sessions(admin_user, alice, client_for):
    sign_in("alice@example.com", user_agent=FIREFOX)
    client = client_for(admin_user)
    response = client.get(f"/users/{alice.pk}/security/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Firefox 128 on Windows" in html
    assert "End all sessions" in html


def test_admin_ends_a_users_sessions_and_it_is_audited(admin_user, alice, client_for):
    browser = sign_in("alice@example.com")
    record = UserSession.objects.get(user=alice)
    client = client_for(admin_user)
    response = client.post(f"/users/{alice.pk}/sessions/{record.pk}/end/")
    assert response.status_code == 302
    assert browser.get("/").status_code == 302
    [event] = events("accounts.session.revoked")
    assert (event.actor_id, event.target_id) == (admin_user.pk, str(alice.pk))


def test_admin_ends_all_of_a_users_sessions(admin_user, alice, client_for):
    browsers = [sign_in("alice@example.com") for _ in range(3)]
    client_for(admin_user).post(f"/users/{alice.pk}/sessions/end-all/")
    assert all(b.get("/").status_code == 302 for b in browsers)
    [event] = events("accounts.session.revoked_all")
    assert event.changes == {"sessions_ended": 3, "kept_current": False}


def test_viewer_sees_sessions_but_cannot_end_them(viewer, alice, client_for):
    sign_in("alice@example.com")
    record = UserSession.objects.get(user=alice)
    client = client_for(viewer)
    page = client.get(f"/users/{alice.pk}/security/")
    assert page.status_code == 200
    assert "End all sessions" not in page.content.decode()
    response = client.post(f"/users/{alice.pk}/sessions/{record.pk}/end/")
    assert response.status_code == 403
    assert "You need the permission sessions:revoke" in response.content.decode()
    record.refresh_from_db()
    assert record.ended_at is None


def test_nobody_but_the_owner_ends_the_owners_sessions(admin_user, owner):
    sign_in("owner@example.com")
    record = UserSession.objects.get(user=owner)
    with pytest.raises(PolicyDenied) as denied:
        session_services.session_revoke(actor=admin_user, user=owner, session_id=record.pk)
    assert denied.value.message == "The owner cannot be signed out by someone else."
    [event] = events("accounts.session.revoked")
    assert event.outcome == "denied"


def test_session_lists_take_a_fixed_number_of_queries(
    admin_user, alice, client_for, django_assert_max_num_queries
):
    for _ in range(8):
        sign_in("alice@example.com", user_agent=FIREFOX)
    client = client_for(admin_user)
    client.get(f"/users/{alice.pk}/security/")  # warm the session's last-seen write
    # 9 + 1: an unverified session asks on every request whether its user
    # has a factor by now (MFAPolicyMiddleware remembers nothing, issue 23).
    with django_assert_max_num_queries(10):
        response = client.get(f"/users/{alice.pk}/security/")
    assert response.content.decode().count("Firefox 128 on Windows") == 8
    mine = sign_in("alice@example.com")
    mine.get("/account/")
    with django_assert_max_num_queries(12):
        response = mine.get("/account/")
    assert len(response.context["sessions"]) == 9


def test_a_user_with_neither_read_permission_is_refused_the_security_section_and_it_is_audited(
    alice, client_for
):
    from audit.models import AuditEvent
    from tests.conftest import make_user

    nobody = make_user("nobody@example.com", roles=[])
    response = client_for(nobody).get(f"/users/{alice.pk}/security/")
    assert response.status_code == 403
    assert "Firefox" not in response.content.decode()
    event = AuditEvent.objects.get(action="rbac.page.denied", actor_id=nobody.pk)
    assert event.outcome == "denied"
    assert event.changes == {"missing": ["sessions:read", "mfa:read"]}


def test_ones_own_user_page_sends_you_to_the_account_page_for_sessions_and_factors(
    viewer, admin_user, alice, client_for
):
    """The security section's End buttons post to routes for acting on other
    users (sessions:revoke); on your own page a viewer was offered them and
    got 403. Your own sessions are ended on the account page."""
    for user in (viewer, admin_user):
        client = sign_in(user.email)
        html = client.get(f"/users/{user.pk}/security/").content.decode()
        assert "Sessions" in html
        assert f"/users/{user.pk}/sessions/" not in html
        assert 'href="/account/#sessions"' in html
    html = client_for(admin_user).get(f"/users/{alice.pk}/security/").content.decode()
    assert 'href="/account/#sessions"' not in html
    sign_in("alice@example.com")
    html = client_for(admin_user).get(f"/users/{alice.pk}/security/").content.decode()
    assert f"/users/{alice.pk}/sessions/end-all/" in html


@pytest.mark.parametrize(
    ("agent", "browser", "os"),
    [
        (FIREFOX, "Firefox 128", "Windows"),
        (SAFARI_IPHONE, "Mobile Safari 17", "iOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge 126",
            "Windows",
        ),
        ("curl/8.5.0", "curl 8", ""),
        ("", "Unknown browser", ""),
        ("\x00garbage" * 80, "Unknown browser", ""),
    ],
)
def test_browser_and_os_are_parsed_by_ua_parser(agent, browser, os):
    from accounts.security import parse_user_agent

    parsed = parse_user_agent(agent)
    assert (parsed.browser, parsed.os) == (browser, os)


def test_the_api_lists_sessions_with_browser_and_os(alice, admin_user):
    from accounts.services.api_keys import api_key_create

    sign_in("alice@example.com", user_agent=FIREFOX)
    _row, key = api_key_create(actor=admin_user, name="sessions", template="viewer")
    response = Client().get(
        f"/api/admin/users/{alice.pk}/sessions", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200, response.content
    [row] = response.json()
    assert (row["browser"], row["os"], row["ip"]) == ("Firefox 128", "Windows", "127.0.0.1")
