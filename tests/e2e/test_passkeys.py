"""In Chromium with a virtual authenticator (the DevTools protocol's
WebAuthn domain, through a Playwright CDP session): a user adds a passkey
on the account page after re-authenticating, signs out, signs in with the
password and the passkey, re-authenticates with the passkey; an
administrator removes it and the user is told. Audit rows, the notices and
screenshots of the account page (1280 and 390 px) along the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from accounts.models import OutboundEmail, UserSession
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e.helpers import sign_in as sign_in_fully
from tests.e2e.helpers import submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def virtual_authenticator(page) -> tuple[object, str]:
    """A platform authenticator that verifies its user and keeps resident
    keys, attached to this page (it stays across navigations)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def credentials(cdp, authenticator_id) -> list:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def test_a_passkey_is_added_used_to_sign_in_and_removed_by_an_administrator(
    live_server, page, browser, screenshot, builtin_roles, settings
):
    settings.MFA_POLICY = "none"
    # The relying party is SITE_URL's host: the live server at localhost (a
    # browser offers passkeys to no IP address).
    settings.SITE_URL = live_server.url
    assert live_server.url.startswith("http://localhost:")
    base = live_server.url
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    mona = make_user("mona@example.com", name="Mona Member")
    cdp, authenticator = virtual_authenticator(page)

    # Signed in with the password only: the account page offers a passkey
    # within the re-authentication window (signing in opens it; past it the
    # page links to re-authentication, tests/accounts/test_passkeys.py).
    page.goto(f"{base}/login/")
    submit_sign_in(page, mona.email)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/account/")
    screenshot(page, "account-passkey-offer", phone=True)
    # Someone else is in the account too (a leaked password).
    intruder_context = browser.new_context(viewport={"width": 1280, "height": 900})
    intruder = intruder_context.new_page()
    intruder.goto(f"{base}/login/")
    submit_sign_in(intruder, mona.email)
    intruder.wait_for_url(f"{base}/")
    key_before = next(c for c in page.context.cookies(base) if c["name"] == "sessionid")

    # The authenticator makes a key; a first factor comes with recovery codes.
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_url(f"{base}/account/mfa/recovery-codes/**")
    assert len(page.locator("#recovery-codes li").all_inner_texts()) == 10
    assert len(credentials(cdp, authenticator)) == 1
    device = WebAuthnCredential.objects.get(user=mona)
    assert device.confirmed and device.name == "Passkey 1"
    # The passkey made this session two-factor, under a new key, and ended
    # the intruder's.
    key_after = next(c for c in page.context.cookies(base) if c["name"] == "sessionid")
    assert key_after["value"] != key_before["value"]
    intruder.goto(f"{base}/account/")
    intruder.wait_for_url(f"{base}/login/**")
    intruder_context.close()
    page.get_by_role("button", name="I have saved them").click()
    page.wait_for_url(f"{base}/account/**")
    expect(page.get_by_text("Passkey 1").first).to_be_visible()
    expect(page.get_by_text("On", exact=True).first).to_be_visible()
    screenshot(page, "account-mfa-passkey", phone=True)

    added = AuditEvent.objects.get(action="accounts.mfa.passkey_added")
    assert (added.actor_id, added.outcome) == (mona.pk, "success")
    assert added.changes["factor"] == [None, f"passkey-{device.pk}"]
    assert "recovery_codes" in added.changes  # how many: redacted by the audit log
    assert added.changes["other_sessions_ended"] == 1
    notice = OutboundEmail.objects.get(
        user=mona, template="security_notice", subject__contains="passkey"
    )
    assert notice.subject.endswith("A passkey was added to your account")
    assert "Passkey 1" in notice.body_text
    # The intruder's sign-in from a new browser told her too (issue 26).
    assert OutboundEmail.objects.filter(
        user=mona, subject="Security notice: New sign-in to your account"
    ).exists()

    # Signed out, the password alone is not enough: the passkey signs in.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login/")
    submit_sign_in(page, mona.email)
    page.wait_for_url(f"{base}/login/mfa/")
    screenshot(page, "login-mfa-passkey", phone=True)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{base}/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    signed_in = AuditEvent.objects.filter(
        action="accounts.login.succeeded", actor_id=mona.pk
    ).latest("id")
    assert signed_in.changes["method"] == "passkey"
    session = UserSession.objects.filter(user=mona, ended_at__isnull=True).get()
    cookie = next(c for c in page.context.cookies(base) if c["name"] == "sessionid")
    assert session.session_key == cookie["value"]
    device.refresh_from_db()
    assert device.last_used_at is not None

    # Re-authenticating with the password and the passkey (no code), once
    # the window that signing in opened has passed.
    UserSession.objects.filter(user=mona).update(
        reauthenticated_at=timezone.now() - timedelta(hours=1)
    )
    page.goto(f"{base}/account/mfa/recovery-codes/regenerate/")
    page.wait_for_url(f"{base}/account/reauthenticate/**")
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    screenshot(page, "reauth-passkey", phone=True)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{base}/account/mfa/recovery-codes/regenerate/")
    expect(page.get_by_role("heading", name="Create new recovery codes?")).to_be_visible()
    assert UserSession.objects.get(user=mona, ended_at__isnull=True).reauthenticated_at

    # The owner removes it from Mona's security section; Mona is told and
    # signed out everywhere.
    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    owner_page = admin.new_page()
    sign_in_fully(owner_page, base, "owner@example.com")
    owner_page.goto(f"{base}/users/{mona.pk}/security/")
    expect(owner_page.get_by_text(f"passkey-{device.pk}")).to_be_visible()
    owner_page.once("dialog", lambda dialog: dialog.accept())
    owner_page.get_by_role("button", name="Remove").first.click()
    expect(owner_page.get_by_text("The factor was removed")).to_be_visible()
    admin.close()
    assert not WebAuthnCredential.objects.filter(user=mona).exists()
    removed = AuditEvent.objects.filter(action="accounts.mfa.removed").latest("id")
    assert f"passkey-{device.pk}" in removed.changes["factors"][0]
    assert OutboundEmail.objects.filter(user=mona, template="mfa_factor_removed").exists()
    page.goto(f"{base}/account/")
    page.wait_for_url(f"{base}/login/**")
