"""TOTP with django-otp: enrolment, the sign-in code step, reuse,
throttling, recovery codes and removing a factor."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import OutboundEmail, UserSession
from accounts.services import mfa
from accounts.services.mfa import WRONG_CODE, CodeRefused, mfa_verify
from core.services import NotFound
from rbac.policies import PolicyDenied
from tests.accounts.mfa_helpers import code_for, enrol, events, sign_in
from tests.conftest import STRONG_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_mfa_policy")]


# --- enrolment ---------------------------------------------------------------------


def test_account_page_shows_qr_code_and_secret_for_enrolment(alice):
    client = sign_in("alice@example.com")  # just signed in: within the re-authentication window
    response = client.get("/account/")
    html = response.content.decode()
    assert "<svg" in html and "QR code to add Handover" in html
    device = TOTPDevice.objects.get(user=alice)
    assert device.confirmed is False
    secret = re.search(r'data-secret="([A-Z2-7]+)"', html).group(1)
    from base64 import b32decode

    assert b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key
    assert 'style="' not in html  # CSP: no inline styles
    # Reloading (here or on the setup page) keeps the same secret.
    client.get("/account/")
    client.get("/account/mfa/setup/")
    assert TOTPDevice.objects.filter(user=alice).count() == 1


def test_enrolment_with_a_wrong_code_is_refused(alice):
    client = sign_in("alice@example.com")
    client.get("/account/mfa/setup/")
    response = client.post("/account/mfa/setup/", {"code": "000000"})
    assert response.status_code == 400
    assert WRONG_CODE in response.content.decode()
    device = TOTPDevice.objects.get(user=alice)
    assert device.confirmed is False
    assert device.throttling_failure_count == 1
    assert not events("accounts.mfa.enrolled")
    assert not StaticToken.objects.exists()


def test_enrolment_confirms_creates_ten_hashed_recovery_codes_and_verifies_session(alice):
    client = sign_in("alice@example.com")
    client.get("/account/mfa/setup/")
    device = TOTPDevice.objects.get(user=alice)
    response = client.post("/account/mfa/setup/", {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/recovery-codes/")
    page = client.get("/account/mfa/recovery-codes/")
    codes = page.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert not stored & {c for c in codes} and not stored & {c.replace("-", "") for c in codes}
    assert stored == {mfa.hash_recovery_code(c) for c in codes}
    download = client.get("/account/mfa/recovery-codes/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    assert all(c in download.content.decode() for c in codes)
    # Dismissed: never shown again.
    client.post("/account/mfa/recovery-codes/", {"next": "/account/"})
    assert client.get("/account/mfa/recovery-codes/").context["codes"] is None
    assert client.get("/account/mfa/recovery-codes/download/").status_code == 302
    assert "otp_device_id" in client.session
    [event] = events("accounts.mfa.enrolled")
    assert event.changes["factor"] == [None, f"totp-{device.pk}"]
    assert "recovery_codes" in event.changes  # the count, redacted by key


# --- sign-in ---------------------------------------------------------------------


def test_sign_in_asks_for_the_code_and_only_then_signs_in(alice):
    device, _ = enrol(alice)
    client = sign_in("alice@example.com")
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302
    page = client.get("/login/mfa/")
    assert page.status_code == 200
    response = client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert client.session["otp_device_id"] == device.persistent_id
    assert client.get("/").status_code == 200
    event = events("accounts.login.succeeded")[-1]
    assert event.changes == {"method": "totp"}
    assert UserSession.objects.filter(user=alice, ended_at__isnull=True).count() == 1


def test_code_step_without_a_password_step_goes_back_to_sign_in(alice):
    enrol(alice)
    response = Client().get("/login/mfa/")
    assert response.status_code == 302 and response["Location"] == "/login/"


def test_a_code_cannot_be_reused_within_its_time_step(alice):
    device, _ = enrol(alice)
    code = code_for(device, offset_steps=1)
    first = sign_in("alice@example.com")
    assert first.post("/login/mfa/", {"otp_token": code}).status_code == 302
    second = sign_in("alice@example.com")
    response = second.post("/login/mfa/", {"otp_token": code})
    assert response.status_code == 200
    assert WRONG_CODE in response.content.decode()
    assert "_auth_user_id" not in second.session
    failed = events("accounts.login.failed")[-1]
    assert failed.reason == "Wrong code." and failed.target_id == str(alice.pk)


def test_wrong_codes_are_throttled_even_when_the_right_one_follows(alice):
    device, _ = enrol(alice)
    with pytest.raises(CodeRefused) as wrong:
        mfa_verify(user=alice, code="000000")
    assert not wrong.value.throttled
    right = code_for(device, offset_steps=1)
    with pytest.raises(CodeRefused) as refused:
        mfa_verify(user=alice, code=right)
    assert refused.value.throttled
    assert refused.value.message == "After a wrong code, wait 1 second before the next try."
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # refusals while throttled do not count
    # Once the delay (1, 2, 4 ... s) has passed, the right code works.
    later = timezone.now() + timedelta(seconds=2)
    with mock.patch("django_otp.models.timezone.now", return_value=later):
        assert mfa_verify(user=alice, code=right).method == "totp"


def test_wrong_codes_count_towards_the_account_lockout(alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # so every wrong code is checked, not throttled
    enrol(alice)
    client = sign_in("alice@example.com")
    client.post("/login/mfa/", {"otp_token": "111111"})
    client.post("/login/mfa/", {"otp_token": "222222"})
    response = client.post("/login/mfa/", {"otp_token": "333333"})
    assert "Incorrect email or password" in response.content.decode()  # locked: back to start
    # Now even the right password is refused.
    again = Client()
    response = again.post("/login/", {"email": "alice@example.com", "password": STRONG_PASSWORD})
    assert "Incorrect email or password" in response.content.decode()
    assert events("accounts.login.locked_out")


def test_a_recovery_code_signs_in_once(alice):
    _, codes = enrol(alice)
    client = sign_in("alice@example.com")
    response = client.post("/login/mfa/", {"otp_token": codes[0].upper()})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    event = events("accounts.login.succeeded")[-1]
    assert event.changes["method"] == "recovery_code"
    assert StaticToken.objects.filter(device__user=alice).count() == 9

    other = sign_in("alice@example.com")
    response = other.post("/login/mfa/", {"otp_token": codes[0]})
    assert WRONG_CODE in response.content.decode()
    assert "_auth_user_id" not in other.session


def test_regenerating_recovery_codes_replaces_the_old_ones(alice):
    _, old = enrol(alice)
    new = mfa.recovery_codes_regenerate(actor=alice)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(CodeRefused):
        mfa_verify(user=alice, code=old[1])
    later = timezone.now() + timedelta(seconds=2)  # past the throttle delay
    with mock.patch("django_otp.models.timezone.now", return_value=later):
        assert mfa_verify(user=alice, code=new[1]).method == "recovery_code"
    assert len(events("accounts.mfa.recovery_codes_regenerated")) == 1


# --- removing a factor -------------------------------------------------------------


def test_removing_your_own_factor_requires_re_authentication(alice):
    device, _ = enrol(alice)
    client = sign_in("alice@example.com")
    client.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    UserSession.objects.filter(user=alice).update(
        reauthenticated_at=timezone.now() - timedelta(hours=1)
    )
    url = f"/account/mfa/totp-{device.pk}/remove/"
    response = client.post(url)
    assert response.status_code == 302
    assert (
        response["Location"]
        == f"/account/reauthenticate/?next=%2Faccount%2Fmfa%2Ftotp-{device.pk}%2Fremove%2F"
    )
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_admin_removes_a_users_factor_user_is_told_and_signed_out(admin_user, alice, client_for):
    device, _ = enrol(alice)
    browser = sign_in("alice@example.com")
    browser.post("/login/mfa/", {"otp_token": code_for(device, offset_steps=1)})
    assert browser.get("/").status_code == 200

    admin = client_for(admin_user)
    page = admin.get(f"/users/{alice.pk}/security/")
    assert f"totp-{device.pk}" in page.content.decode()
    response = admin.post(f"/users/{alice.pk}/mfa/totp-{device.pk}/remove/")
    assert response.status_code == 302

    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not StaticToken.objects.filter(device__user=alice).exists()
    assert browser.get("/").status_code == 302
    assert not UserSession.objects.filter(user=alice, ended_at__isnull=True).exists()
    [email] = OutboundEmail.objects.filter(template="mfa_factor_removed")
    assert email.to == "alice@example.com"
    assert "Adam Admin" in email.body_text
    [event] = events("accounts.mfa.removed")
    assert (event.actor_id, event.target_id, event.outcome) == (
        admin_user.pk,
        str(alice.pk),
        "success",
    )
    assert event.changes["factors"][0][0] == f"totp-{device.pk}"
    assert len(mail.outbox) <= 1


def test_removing_a_factor_needs_mfa_reset(editor, alice):
    device, _ = enrol(alice)
    with pytest.raises(PolicyDenied) as denied:
        mfa.mfa_device_remove(actor=editor, user=alice, device_id=f"totp-{device.pk}")
    assert denied.value.message == "You need the permission mfa:reset to do this."
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    [event] = events("accounts.mfa.removed")
    assert event.outcome == "denied"


def test_nobody_removes_the_owners_factor(admin_user, owner):
    device, _ = enrol(owner)
    with pytest.raises(PolicyDenied) as denied:
        mfa.mfa_device_remove(actor=admin_user, user=owner, device_id=f"totp-{device.pk}")
    assert denied.value.message == "The owner cannot be stripped of a factor by someone else."


def test_removing_an_unknown_factor_says_so(admin_user, alice):
    """A missing factor is not a refusal: NotFound (404), nothing audited."""
    with pytest.raises(NotFound) as missing:
        mfa.mfa_device_remove(actor=admin_user, user=alice, device_id="totp-999")
    assert missing.value.message == "This factor does not exist (it may have been removed already)."
    assert not events("accounts.mfa.removed")


def test_an_outsider_asking_for_an_unknown_factor_is_refused_not_told(member, alice):
    """The guard comes before the lookup: someone who may not remove the
    user's factors is refused whatever the factor id, never told which exist."""
    with pytest.raises(PolicyDenied) as denied:
        mfa.mfa_device_remove(actor=member, user=alice, device_id="totp-999")
    assert denied.value.code == "permission_denied"


def test_the_factor_page_tells_whether_a_factor_exists_only_to_whom_may_remove_it(
    client_for, owner, admin_user, alice
):
    from tests.conftest import make_user

    manager = make_user(
        "manager@example.com", direct_permissions=["mfa:reset", "mfa:read", "users:read"]
    )
    device, _ = enrol(owner)
    client = client_for(manager)
    for factor in (f"totp-{device.pk}", "totp-999999"):
        url = f"/users/{owner.pk}/mfa/{factor}/remove/"
        assert client.post(url).status_code == 403  # the same refusal either way
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    # Someone who may remove alice's factors is told it is gone already.
    response = client_for(admin_user).post(
        f"/users/{alice.pk}/mfa/totp-999999/remove/", follow=True
    )
    assert "That factor was already removed." in response.content.decode()
