"""Factors change only with a fresh proof of the person, and the person
securing an account evicts whoever else is in it (issue 23).

Each attack goes through the real pages: a stolen session cookie (the
session's re-authentication window has passed) tries to replace or add an
authenticator; an intruder who signed in with a leaked password stays
signed in while the victim turns two-factor on; a password-only session
reaches more than the code step. Then the legitimate paths: each factor
change records what was removed and added, tells the user and ends the
account's other sessions; the session key changes whenever a session
proves more (sign-in, re-authentication, a second factor) and its row in
the sessions list follows it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import OutboundEmail, UserSession
from accounts.services import mfa
from rbac.actor import Actor
from rbac.policies import PolicyDenied
from tests.accounts.mfa_helpers import code_for, enrol, events, sign_in
from tests.conftest import STRONG_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_mfa_policy")]

SETUP = "/account/mfa/setup/"
REAUTH_FOR_SETUP = "/account/reauthenticate/?next=%2Faccount%2Fmfa%2Fsetup%2F"


def _stale(user) -> None:
    """The re-authentication window of every session of `user` has passed:
    what a cookie stolen a while ago carries."""
    UserSession.objects.filter(user=user).update(
        reauthenticated_at=timezone.now() - timedelta(hours=1)
    )


def _signed_in_with_code(user, device, recovery_code: str | None = None) -> Client:
    """A browser through both steps: the app's next code, or (for a second
    browser within the same 30 seconds, where that code is spent) a
    recovery code."""
    client = sign_in(user.email)
    code = recovery_code or code_for(device, offset_steps=1)
    response = client.post("/login/mfa/", {"otp_token": code})
    assert response.status_code == 302
    return client


def _pending_device(user) -> TOTPDevice:
    return TOTPDevice.objects.filter(user=user, confirmed=False).latest("id")


def _reauth(client, *, code: str = "", next_url: str = SETUP):
    response = client.post(
        "/account/reauthenticate/",
        {"password": STRONG_PASSWORD, "code": code, "next": next_url},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def _notices(user, kind_subject: str) -> list[OutboundEmail]:
    return list(
        OutboundEmail.objects.filter(to=user.email, subject__contains=kind_subject).order_by("id")
    )


# --- the attacks -------------------------------------------------------------------------


def test_a_stolen_session_without_a_fresh_proof_cannot_replace_the_authenticator(alice):
    device, codes = enrol(alice)
    stolen = _signed_in_with_code(alice, device)
    _stale(alice)
    stored_codes = set(StaticToken.objects.filter(device__user=alice).values_list("token"))

    shown = stolen.get(SETUP)
    assert shown.status_code == 302 and shown["Location"] == REAUTH_FOR_SETUP
    # Even a pending app the attacker somehow holds a code for is refused.
    pending = TOTPDevice.objects.create(user=alice, name="Attacker", confirmed=False)
    posted = stolen.post(SETUP, {"code": code_for(pending)})
    assert posted.status_code == 302 and posted["Location"] == REAUTH_FOR_SETUP

    assert list(TOTPDevice.objects.filter(user=alice, confirmed=True)) == [device]
    assert set(StaticToken.objects.filter(device__user=alice).values_list("token")) == (
        stored_codes
    )
    assert [e.outcome for e in events("accounts.mfa.enrolled")] == ["success"]  # enrol() above
    assert not events("accounts.mfa.replaced")


def test_a_stolen_session_without_a_fresh_proof_cannot_add_a_first_factor(alice):
    stolen = sign_in(alice.email)
    assert stolen.get("/").status_code == 200
    _stale(alice)
    posted = stolen.post(SETUP, {"code": "123456"})
    assert posted.status_code == 302 and posted["Location"] == REAUTH_FOR_SETUP
    # The account page offers the way in, not a secret to scan.
    page = stolen.get("/account/").content.decode()
    assert "data-secret" not in page
    assert 'href="/account/mfa/setup/"' in page
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


def test_the_service_refuses_a_factor_change_without_a_fresh_proof_and_records_it(alice):
    """The guard is the service's, not the page's: a session credential
    without a recent proof is refused whoever calls."""
    device = mfa.totp_enrol_begin(actor=alice)
    stale = Actor.for_session(alice, "stolen-session-key", recent_proof=lambda: False)
    with pytest.raises(PolicyDenied) as denied:
        mfa.totp_enrol_confirm(actor=stale, device=device, code=code_for(device))
    assert denied.value.code == "reauthentication_required"
    [event] = events("accounts.mfa.enrolled")
    assert event.outcome == "denied"
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    with pytest.raises(PolicyDenied):
        mfa.recovery_codes_regenerate(actor=stale)


def test_the_intruders_session_ends_when_the_victim_turns_on_two_factor(alice):
    intruder = sign_in(alice.email)  # a leaked password, no factor yet
    assert intruder.get("/").status_code == 200

    victim = sign_in(alice.email)
    assert victim.get(SETUP).status_code == 200
    device = _pending_device(alice)
    response = victim.post(SETUP, {"code": code_for(device)})
    assert response.status_code == 302

    answer = intruder.get("/account/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert victim.get("/account/").status_code == 200
    [row] = UserSession.objects.filter(user=alice, ended_at__isnull=True)
    assert row.session_key == victim.session.session_key
    [event] = events("accounts.mfa.enrolled")
    assert event.changes["factor"] == [None, f"totp-{device.pk}"]
    assert event.changes["other_sessions_ended"] == 1
    [notice] = _notices(alice, "A two-factor authentication method was added")
    assert "authenticator app" in notice.body_text
    assert "signed out" in notice.body_text


def test_a_secret_shown_to_another_browser_is_never_the_one_the_user_confirms(alice):
    """An intruder who reads the setup page's secret (say, with the leaked
    password) must not end up holding the victim's new authenticator."""
    intruder = sign_in(alice.email)
    intruder.get(SETUP)
    seen = _pending_device(alice)

    victim = sign_in(alice.email)
    victim.get(SETUP)
    mine = _pending_device(alice)
    assert mine.pk != seen.pk and mine.key != seen.key
    victim.post(SETUP, {"code": code_for(mine)})
    assert list(TOTPDevice.objects.filter(user=alice)) == [TOTPDevice.objects.get(pk=mine.pk)]


def test_a_password_only_session_reaches_only_the_code_step_once_a_factor_exists(alice):
    """The middleware must not remember "this user has no factor" for the
    session: a factor that arrives later (through any path) sends the
    session to the code step on its very next request."""
    intruder = sign_in(alice.email)
    assert intruder.get("/").status_code == 200
    assert intruder.get("/account/").status_code == 200
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)

    pages = ("/", "/account/", SETUP, "/account/mfa/recovery-codes/", "/account/reauthenticate/")
    for path in pages:
        response = intruder.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/mfa/"), path
    assert intruder.post(SETUP, {"code": "123456"})["Location"].startswith("/login/mfa/")


# --- the legitimate changes ----------------------------------------------------------------


def test_replacing_the_authenticator_needs_password_and_code_and_records_old_and_new(alice):
    old, codes = enrol(alice)
    laptop = _signed_in_with_code(alice, old)
    phone = _signed_in_with_code(alice, old, codes[-1])
    _stale(alice)
    OutboundEmail.objects.all().delete()
    old_recovery = set(StaticToken.objects.filter(device__user=alice).values_list("token"))

    assert laptop.get(SETUP)["Location"] == REAUTH_FOR_SETUP
    _reauth(laptop, code=codes[0])
    page = laptop.get(SETUP)
    assert page.status_code == 200
    assert "Replace your authenticator app" in page.content.decode()
    new = _pending_device(alice)
    response = laptop.post(SETUP, {"code": code_for(new)})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/recovery-codes/")

    assert list(TOTPDevice.objects.filter(user=alice)) == [TOTPDevice.objects.get(pk=new.pk)]
    assert not old_recovery & set(
        StaticToken.objects.filter(device__user=alice).values_list("token")
    )
    [event] = events("accounts.mfa.replaced")
    assert event.changes["factor"] == [f"totp-{old.pk}", f"totp-{new.pk}"]
    assert event.changes["other_sessions_ended"] == 1
    [notice] = _notices(alice, "A two-factor authentication method was added")
    assert "replacing" in notice.body_text
    assert phone.get("/").status_code == 302  # the other browser is signed out
    assert laptop.get("/account/").status_code == 200


def test_removing_your_own_factor_tells_you_and_ends_your_other_sessions(alice):
    device, codes = enrol(alice)
    laptop = _signed_in_with_code(alice, device)
    phone = _signed_in_with_code(alice, device, codes[-1])
    OutboundEmail.objects.all().delete()
    url = f"/account/mfa/totp-{device.pk}/remove/"
    assert laptop.post(url).status_code == 302
    assert not TOTPDevice.objects.filter(user=alice).exists()
    [event] = events("accounts.mfa.removed")
    assert event.changes["factors"][0][0] == f"totp-{device.pk}"
    assert event.changes["other_sessions_ended"] == 1
    assert len(_notices(alice, "was removed")) == 1
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200


def test_new_recovery_codes_tell_you_and_end_your_other_sessions(alice):
    device, codes = enrol(alice)
    laptop = _signed_in_with_code(alice, device)
    phone = _signed_in_with_code(alice, device, codes[-1])
    OutboundEmail.objects.all().delete()
    url = "/account/mfa/recovery-codes/regenerate/"
    assert laptop.post(url)["Location"] == "/account/mfa/recovery-codes/"
    [event] = events("accounts.mfa.recovery_codes_regenerated")
    assert event.changes["other_sessions_ended"] == 1
    assert len(_notices(alice, "New recovery codes")) == 1
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200


# --- session keys ------------------------------------------------------------------------


def _open_rows(user):
    return list(UserSession.objects.filter(user=user, ended_at__isnull=True))


def test_signing_in_with_a_code_gives_a_new_session_key_and_one_row(alice):
    device, _ = enrol(alice)
    client = sign_in(alice.email)
    before = client.session.session_key
    assert before  # the password step's pending session
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    after = client.session.session_key
    assert after != before
    [row] = _open_rows(alice)
    assert row.session_key == after


def test_re_authenticating_gives_a_new_session_key_and_the_row_follows(alice):
    client = sign_in(alice.email)
    client.get("/")
    [row] = _open_rows(alice)
    before = client.session.session_key
    _stale(alice)
    _reauth(client, next_url="/account/")
    after = client.session.session_key
    assert after != before
    [moved] = _open_rows(alice)
    assert (moved.pk, moved.session_key, moved.created_at) == (row.pk, after, row.created_at)
    sessions = client.get("/account/").context["sessions"]
    assert [s["current"] for s in sessions] == [True]
    # The old key is dead: a copy of the old cookie is signed out.
    copy = Client()
    copy.cookies["sessionid"] = before
    assert copy.get("/")["Location"].startswith("/login/")


def test_turning_on_two_factor_gives_a_new_session_key_and_the_row_follows(alice):
    client = sign_in(alice.email)
    client.get(SETUP)
    [row] = _open_rows(alice)
    before = client.session.session_key
    client.post(SETUP, {"code": code_for(_pending_device(alice))})
    after = client.session.session_key
    assert after != before
    [moved] = _open_rows(alice)
    assert (moved.pk, moved.session_key) == (row.pk, after)
    assert "otp_device_id" in client.session
    assert client.get("/account/").status_code == 200


def test_completing_the_code_step_in_a_signed_in_session_keeps_its_row(alice, client_for):
    device, _ = enrol(alice)
    client = client_for(alice, verified=False)  # a session that skipped the code step
    [row] = _open_rows(alice)
    before = client.session.session_key
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert client.session.session_key != before
    [moved] = _open_rows(alice)
    assert (moved.pk, moved.session_key) == (row.pk, client.session.session_key)


def test_changing_your_password_keeps_one_row_for_this_browser(alice):
    client = sign_in(alice.email)
    client.get("/")
    response = client.post(
        "/account/password/",
        {
            "current_password": STRONG_PASSWORD,
            "new_password": "Another-Horse-Battery-43",
            "new_password_again": "Another-Horse-Battery-43",
        },
    )
    assert response.status_code == 302
    client.get("/account/")
    [row] = _open_rows(alice)
    assert row.session_key == client.session.session_key
