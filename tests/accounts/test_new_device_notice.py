"""A sign-in from a new device or browser tells the user once, with a
"This wasn't me" link that works once: it signs out every session and
starts a password reset (issue 26). Ban and disable notices, each with its
own setting. Through the real sign-in page and the emailed link."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import KnownDevice, OutboundEmail, UserSession
from accounts.services import users as user_services
from accounts.services.devices import DEVICE_COOKIE
from accounts.services.sealing import unseal
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.MFA_POLICY = "none"


def browser(user_agent=FIREFOX) -> Client:
    return Client(HTTP_USER_AGENT=user_agent)


def sign_in(client, email="member@example.com"):
    response = client.post("/login/", {"email": email, "password": STRONG_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return response


def notices(kind_subject="New sign-in"):
    return list(OutboundEmail.objects.filter(subject__contains=kind_subject).order_by("created_at"))


def report_link(email) -> str:
    body = unseal(email.body_text)
    match = re.search(r"https?://[^\s]+/sign-in/not-me/([^/\s]+)/", body)
    assert match, body
    return f"/sign-in/not-me/{match.group(1)}/"


def test_the_first_device_is_remembered_without_a_notice(member):
    laptop = browser()
    response = sign_in(laptop)
    assert DEVICE_COOKIE in response.cookies
    assert response.cookies[DEVICE_COOKIE]["httponly"]
    assert KnownDevice.objects.filter(user=member).count() == 1
    assert notices() == []


def test_a_new_device_is_told_once_and_a_known_one_never(member):
    laptop = browser()
    sign_in(laptop)
    laptop.post("/logout/")
    sign_in(laptop)  # the same browser again: known
    assert notices() == []

    phone = browser(IPHONE)
    sign_in(phone)
    [notice] = notices()
    assert notice.to == "member@example.com"
    body = unseal(notice.body_text)
    assert "Mobile Safari 17 on iOS, from 127.0.0.1" in body
    assert "127.0.0.1" in body
    assert "This wasn't me" in body
    assert not notice.body_text.startswith("Mobile")  # sealed: it carries a live link
    event = AuditEvent.objects.filter(action="accounts.login.succeeded").latest("id")
    assert event.changes.get("new_device") is True

    phone.post("/logout/")
    sign_in(phone)  # the phone is known now
    sign_in(laptop)
    assert len(notices()) == 1
    assert KnownDevice.objects.filter(user=member).count() == 2


def test_a_forged_device_cookie_is_a_new_device(member):
    sign_in(browser())
    stranger = browser()
    stranger.cookies[DEVICE_COOKIE] = "not-a-cookie-we-gave"
    sign_in(stranger)
    assert len(notices()) == 1


def test_the_notice_can_be_turned_off(member, settings):
    settings.SECURITY_NOTICE_NEW_DEVICE = False
    sign_in(browser())
    sign_in(browser(IPHONE))
    assert notices() == []
    assert KnownDevice.objects.filter(user=member).count() == 2


def test_this_was_not_me_ends_every_session_and_starts_a_reset_once(member):
    laptop = browser()
    sign_in(laptop)
    thief = browser(IPHONE)
    sign_in(thief)
    link = report_link(notices()[0])
    assert UserSession.objects.filter(user=member, ended_at__isnull=True).count() == 2

    victim = browser()  # opened from the mail app: not signed in
    hop = victim.get(link)
    assert hop.status_code == 302 and "continue" in hop["Location"]
    assert hop["Referrer-Policy"] == "no-referrer"
    page = victim.get(hop["Location"])
    assert page.status_code == 200
    assert "Sign out everywhere and choose a new password" in page.content.decode()
    # Looking changed nothing.
    assert UserSession.objects.filter(user=member, ended_at__isnull=True).count() == 2

    done = victim.post(hop["Location"])
    assert done.status_code == 302
    assert done["Location"] == "/password/reset/continue/"
    assert UserSession.objects.filter(user=member, ended_at__isnull=True).count() == 0
    assert thief.get("/").status_code == 302  # signed out
    assert laptop.get("/").status_code == 302
    [event] = AuditEvent.objects.filter(action="accounts.sign_in.reported")
    assert event.actor_id == member.pk and event.target_id == str(member.pk)
    assert event.changes["sessions_ended"] == 2

    reset = victim.get(done["Location"])
    assert reset.status_code == 200
    chosen = victim.post(
        done["Location"], {"password1": "A-brand-new-pass-42", "password2": "A-brand-new-pass-42"}
    )
    assert chosen.status_code == 302
    member.refresh_from_db()
    assert member.check_password("A-brand-new-pass-42")

    # Once only.
    again = browser()
    page = again.get(again.get(link)["Location"])
    assert page.status_code == 400
    assert "already used" in page.content.decode()


def test_a_bad_report_link_is_refused_without_a_500(member):
    client = browser()
    page = client.get(client.get("/sign-in/not-me/nonsense/")["Location"])
    assert page.status_code == 400
    assert client.post("/sign-in/not-me/continue/").status_code == 400


# --- ban and disable --------------------------------------------------------------


def test_a_ban_and_a_disable_each_send_one_notice(admin_user, member, editor):
    OutboundEmail.objects.all().delete()
    user_services.user_ban(actor=admin_user, user=member, reason="Spam")
    user_services.user_disable(actor=admin_user, user=editor, reason="Left")
    [banned] = OutboundEmail.objects.filter(to="member@example.com")
    assert banned.subject == "Security notice: Your account was banned"
    assert "permanently, giving this reason: Spam" in banned.body_text
    [disabled] = OutboundEmail.objects.filter(to="editor@example.com")
    assert disabled.subject == "Security notice: Your account was disabled"
    # Nothing more when nothing changes.
    user_services.user_disable(actor=admin_user, user=editor)
    assert OutboundEmail.objects.count() == 2


def test_ban_and_disable_notices_have_their_own_settings(admin_user, member, editor, settings):
    settings.SECURITY_NOTICE_BANNED = False
    OutboundEmail.objects.all().delete()
    user_services.user_ban(actor=admin_user, user=member)
    user_services.user_disable(actor=admin_user, user=editor)
    assert [e.subject for e in OutboundEmail.objects.all()] == [
        "Security notice: Your account was disabled"
    ]


@pytest.mark.parametrize("on", [True, False])
def test_the_factor_added_notice_has_its_own_setting(member, settings, on):
    from tests.accounts.mfa_helpers import enrol

    settings.SECURITY_NOTICE_FACTOR_ADDED = on
    OutboundEmail.objects.all().delete()
    enrol(member)
    subjects = [e.subject for e in OutboundEmail.objects.all()]
    added = "Security notice: A two-factor authentication method was added to your account"
    assert subjects == ([added] if on else [])


def test_a_batch_ban_tells_each_user_with_one_insert(admin_user, django_assert_max_num_queries):
    from accounts.services.batch import batch_run
    from tests.conftest import make_users

    users = make_users(30, prefix="told")
    OutboundEmail.objects.all().delete()
    with django_assert_max_num_queries(3 * 30 + 16):
        batch_run(actor=admin_user, action="ban", user_ids=[u.pk for u in users])
    told = OutboundEmail.objects.filter(subject="Security notice: Your account was banned")
    assert sorted(told.values_list("to", flat=True)) == sorted(u.email for u in users)


def test_only_a_device_beside_known_ones_is_marked_new_in_the_sign_in_event(member):
    sign_in(browser())
    sign_in(browser(IPHONE))
    first, second = AuditEvent.objects.filter(action="accounts.login.succeeded").order_by("id")
    assert "new_device" not in first.changes
    assert second.changes["new_device"] is True


def test_this_was_not_me_also_revokes_the_api_keys_an_intruder_could_have_made(admin_user):
    """An intruder signed in as you may have made an API key, which would
    outlive the sessions the report ends: the report revokes the account's
    keys too (the user makes new ones after choosing a new password)."""
    from accounts.models import ApiKey
    from accounts.services.api_keys import api_key_create

    sign_in(browser(), email="admin@example.com")
    sign_in(browser(IPHONE), email="admin@example.com")
    planted, _raw = api_key_create(actor=admin_user, name="backdoor", scopes=["users:read"])
    link = report_link(notices()[0])

    victim = browser()
    victim.post(victim.get(link)["Location"])

    planted.refresh_from_db()
    assert planted.revoked_at is not None
    assert not ApiKey.objects.filter(user=admin_user, revoked_at__isnull=True).exists()
    [event] = AuditEvent.objects.filter(action="accounts.sign_in.reported")
    assert event.changes["keys_revoked"] == 1
