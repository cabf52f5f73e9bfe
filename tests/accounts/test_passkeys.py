"""Passkeys through the real doors, short of a browser's authenticator
(that journey is tests/e2e/test_passkeys.py): the guards of adding one, the
code step's passkey door under the same lockout and budgets as codes, junk
answers, and a passkey as a factor everywhere factors are (the list, the
API, removal, the MFA policy, the users list)."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp_webauthn.models import WebAuthnCredential, WebAuthnUserHandle

from accounts.services.api_keys import api_key_create
from accounts.services.passkeys import PASSKEY_FAILED
from accounts.services.throttling import SIGNIN_REFUSED
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user, reauthenticate, verify_session

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.77"
BEGIN = "/account/mfa/passkeys/begin/"
COMPLETE = "/account/mfa/passkeys/complete/"
LOGIN_BEGIN = "/login/mfa/passkey/begin/"
LOGIN_COMPLETE = "/login/mfa/passkey/complete/"


@pytest.fixture
def alice(db, owner, settings):
    settings.MFA_POLICY = "none"
    return make_user("alice@example.com", name="Alice")


def make_passkey(user, name="Laptop") -> WebAuthnCredential:
    """A stored passkey (as a completed ceremony leaves one)."""
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=secrets.token_bytes(32),
        public_key=secrets.token_bytes(77),
        aaguid="00000000-0000-0000-0000-000000000000",
    )


def signed_in(email, *, ip="192.0.2.5") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.post("/login/", {"email": email, "password": STRONG_PASSWORD})
    return client


def bearer(user, template="full_access"):
    _key, raw = api_key_create(actor=user, name="tests", template=template)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- adding one: only with a fresh proof ------------------------------------------


def test_a_stolen_session_without_a_fresh_proof_cannot_add_a_passkey(alice):
    thief = signed_in(alice.email)
    reauthenticate(thief, minutes_ago=60)  # the cookie outlived the window
    refused = thief.post(BEGIN)
    assert refused.status_code == 403
    assert refused.json()["code"] == "reauthentication_required"
    # Nothing was handed out or stored, and the refusal is on the record.
    assert "passkey_register_state" not in thief.session
    assert not WebAuthnUserHandle.objects.filter(user=alice).exists()
    denied = AuditEvent.objects.get(action="accounts.mfa.passkey_added")
    assert (denied.actor_id, denied.outcome) == (alice.pk, "denied")
    # Completing with a made-up answer adds nothing either.
    answer = thief.post(COMPLETE, data={"id": "x"}, content_type="application/json")
    assert answer.status_code == 400
    assert not WebAuthnCredential.objects.filter(user=alice).exists()
    # The page links to re-authentication instead of offering the button.
    page = thief.get("/account/").content.decode()
    assert 'id="passkey-registration-placeholder"' not in page
    assert "/account/reauthenticate/?next=/account/%23passkeys" in page


def test_with_a_fresh_proof_the_ceremony_starts_for_this_session_only(alice):
    client = signed_in(alice.email)
    reauthenticate(client)
    options = client.post(BEGIN)
    assert options.status_code == 200
    body = options.json()
    assert body["rp"] == {"name": "Handover", "id": "testserver"}
    assert body["user"]["name"] == alice.email
    assert client.session["passkey_register_state"]["challenge"] == body["challenge"]
    page = client.get("/account/").content.decode()
    assert 'id="passkey-registration-placeholder"' in page
    assert '"beginRegistrationUrl": "/account/mfa/passkeys/begin/"' in page


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}',
        b'{"id": 1, "response": {"clientDataJSON": "%%%", "attestationObject": "!!"}}',
    ],
)
def test_a_junk_answer_to_a_started_ceremony_is_refused_not_a_server_error(alice, body):
    client = signed_in(alice.email)
    reauthenticate(client)
    client.post(BEGIN)
    answer = client.post(COMPLETE, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["detail"] == PASSKEY_FAILED
    assert not WebAuthnCredential.objects.filter(user=alice).exists()
    # The challenge was used up: replaying it finds nothing.
    assert "passkey_register_state" not in client.session


# --- using one at the code step --------------------------------------------------


def test_a_user_with_only_a_passkey_is_asked_for_it_after_the_password(alice):
    make_passkey(alice)
    client = Client()
    step = client.post("/login/", {"email": alice.email, "password": STRONG_PASSWORD})
    assert step["Location"] == "/login/mfa/"
    assert "_auth_user_id" not in client.session
    page = client.get("/login/mfa/").content.decode()
    assert "Use a passkey" in page
    options = client.post(LOGIN_BEGIN)
    assert options.status_code == 200
    allowed = options.json()["allowCredentials"]
    assert len(allowed) == 1
    # Without the password step there is nothing to ask.
    assert Client().post(LOGIN_BEGIN).status_code == 400


def test_a_refused_passkey_counts_like_a_wrong_code_and_spends_the_address_budget(alice, settings):
    make_passkey(alice)
    settings.SIGNIN_FAILURES_PER_ADDRESS = 2
    client = Client(REMOTE_ADDR=ATTACKER)
    client.post("/login/", {"email": alice.email, "password": STRONG_PASSWORD})
    for _ in range(2):
        client.post(LOGIN_BEGIN)
        refused = client.post(
            LOGIN_COMPLETE, data={"id": "forged"}, content_type="application/json"
        )
        assert refused.status_code == 400
        assert refused.json()["code"] == "passkey_refused"
    failed = AuditEvent.objects.filter(action="accounts.login.failed", reason="Passkey refused.")
    assert failed.count() == 2
    # Spent: the next try is refused before any answer is checked.
    throttled = client.post(LOGIN_COMPLETE, data={}, content_type="application/json")
    assert throttled.status_code == 429
    assert throttled.json()["detail"] == SIGNIN_REFUSED
    assert client.post(LOGIN_BEGIN).status_code == 429
    assert "_auth_user_id" not in client.session


# --- a factor like the others ----------------------------------------------------


def test_a_passkey_is_listed_and_removed_through_the_api_and_the_user_is_told(
    client, admin_user, alice
):
    device = make_passkey(alice)
    StaticDevice.objects.create(user=alice, name="Recovery codes", confirmed=True)
    key = bearer(admin_user)
    listed = client.get(f"/api/admin/users/{alice.pk}/mfa", **key).json()
    assert {"id": f"passkey-{device.pk}", "type": "passkey", "name": "Laptop"} in [
        {k: f[k] for k in ("id", "type", "name")} for f in listed
    ]
    gone = client.delete(f"/api/admin/users/{alice.pk}/mfa/passkey-{device.pk}", **key)
    assert gone.status_code == 204
    # The last passkey takes the recovery codes with it.
    assert not WebAuthnCredential.objects.filter(user=alice).exists()
    assert not StaticDevice.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="accounts.mfa.removed")
    assert event.changes["factors"][0][0] == f"passkey-{device.pk}"
    assert alice.emails.filter(template="mfa_factor_removed").exists()


def test_removing_ones_own_passkey_needs_a_fresh_proof_and_keeps_the_app(alice):
    from tests.accounts.mfa_helpers import enrol

    enrol(alice)
    device = make_passkey(alice)
    client = Client()
    client.force_login(alice, backend="accounts.backends.EmailBackend")
    verify_session(client, alice, force=True)  # past the code step
    client.get("/healthz")
    reauthenticate(client, minutes_ago=60)
    url = f"/account/mfa/passkey-{device.pk}/remove/"
    assert client.post(url)["Location"].startswith("/account/reauthenticate/")
    assert WebAuthnCredential.objects.filter(pk=device.pk).exists()
    reauthenticate(client)
    confirm = client.get(url).content.decode()
    assert "Remove the passkey “Laptop”?" in confirm
    client.post(url)
    assert not WebAuthnCredential.objects.filter(pk=device.pk).exists()
    # The authenticator app and the recovery codes stay.
    assert StaticDevice.objects.filter(user=alice).exists()
    notice = alice.emails.filter(template="security_notice").latest("created_at")
    assert "passkey" in notice.body_text


def test_a_passkey_satisfies_the_mfa_policy_and_the_users_list(client_for, admin_user, alice):
    from accounts.security import has_mfa

    make_passkey(alice)
    assert has_mfa(alice)
    key = bearer(admin_user)
    on = Client().get("/api/admin/users?mfa=on&limit=200", **key).json()
    assert alice.email in [u["email"] for u in on]
    off = Client().get("/api/admin/users?mfa=off&limit=200", **key).json()
    assert alice.email not in [u["email"] for u in off]


def test_a_passkey_alone_satisfies_a_managers_policy_and_gates_the_session(admin_user, settings):
    """An administrator (the policy requires a factor) whose one factor is
    a passkey: after the password, not sent to set one up but to the code
    step, and signed in to nothing until the passkey is used."""
    settings.MFA_POLICY = "managers"
    make_passkey(admin_user)
    client = Client()
    step = client.post("/login/", {"email": admin_user.email, "password": STRONG_PASSWORD})
    assert step["Location"] == "/login/mfa/"
    assert "_auth_user_id" not in client.session
    assert client.get("/users/")["Location"].startswith("/login")
    assert "Use a passkey" in client.get("/login/mfa/").content.decode()
    assert client.post(LOGIN_BEGIN).status_code == 200
