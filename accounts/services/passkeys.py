"""Passkeys (WebAuthn, through django-otp-webauthn) as a second factor.

The package's helper (`accounts.passkeys.PasskeyHelper`) runs the
ceremonies -- options for the browser, then checking its signed answer --
and stores a passkey as a django-otp device (`WebAuthnCredential`). What a
passkey changes goes through here, as an authenticator app's does through
`accounts.services.mfa`: adding one asks its named guard with a fresh proof
(`check_can_add_passkey`), records the factor added, gives a first factor
its recovery codes, emails a notice and ends the account's other sessions.
Removing one is `mfa.mfa_device_remove` (factor id `passkey-<pk>`).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.utils import rewrite_exceptions
from webauthn.helpers.exceptions import WebAuthnException

from accounts.security import factor_id, has_mfa
from accounts.services.common import lock_user
from accounts.services.mfa import RECOVERY_CODE_COUNT, CodeRefused, replace_recovery_codes
from accounts.services.notices import notify_passkey_added
from accounts.services.sessions import sessions_end_all
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies

logger = logging.getLogger(__name__)

PASSKEY_REFUSED = "That passkey was not accepted. Try again, or use a code instead."
PASSKEY_FAILED = "This passkey could not be added. Try again."
# The browser's answer is untrusted input: anything it can make the
# ceremony raise is a refusal, never a server error.
CEREMONY_ERRORS = (OTPWebAuthnApiError, WebAuthnException, ValueError, KeyError, TypeError)
NAME_MAX = 64


@service
def passkey_register_begin(*, actor, helper) -> tuple[dict, dict]:
    """The options the browser needs to create a passkey for `actor`'s own
    account, and the state the caller keeps in this session for
    `passkey_register_complete`. The guard comes first: without a fresh
    proof nothing is shown or stored."""
    user = lock_user(actor.user)
    policies.check_can_add_passkey(actor)
    return helper.register_begin(user=user)


@service
def passkey_register_complete(
    *, actor, helper, state: dict, data, name: str = "", keep_session_key: str | None = None
) -> tuple[WebAuthnCredential, list[str] | None]:
    """Check the browser's answer to `passkey_register_begin` and keep the
    passkey. Needs a fresh proof; every session of `actor` but
    `keep_session_key` ends. A first factor comes with new recovery codes,
    returned in clear (show them once), else None. Raises ValidationError
    when the answer does not check out."""
    user = lock_user(actor.user)
    policies.check_can_add_passkey(actor)
    first = not has_mfa(user)
    try:
        with rewrite_exceptions(logger=logger):
            device = helper.register_complete(user=user, state=state, data=data)
    except CEREMONY_ERRORS as exc:
        raise ValidationError(PASSKEY_FAILED, code="passkey_refused") from exc
    device.name = (name or "").strip()[:NAME_MAX] or f"Passkey {_count(user)}"
    device.save(update_fields=["name"])
    codes = replace_recovery_codes(user) if first else None
    ended = sessions_end_all(user, except_key=keep_session_key)
    changes = {"factor": [None, factor_id(device)], "other_sessions_ended": ended}
    if codes:
        changes["recovery_codes"] = RECOVERY_CODE_COUNT
    audit.record(
        events.MFA_PASSKEY_ADDED,
        actor=actor,
        target=user,
        reason=device.name,
        changes=changes,
    )
    notify_passkey_added(user, name=device.name, other_sessions_ended=ended)
    return device, codes


def _count(user) -> int:
    return WebAuthnCredential.objects.filter(user=user).count()


def passkey_verify(*, helper, user, state: dict | None, data) -> WebAuthnCredential:
    """Check a passkey's answer for `user` (the code step, or a
    re-authentication): the confirmed passkey that signed, its use
    recorded on it. Raises CodeRefused; the caller records the outcome, and
    a refusal counts towards the lockout and the address's budget there."""
    if not state:
        raise CodeRefused(PASSKEY_REFUSED)
    try:
        with rewrite_exceptions(logger=logger):
            device = helper.authenticate_complete(user=user, state=state, data=data)
    except CEREMONY_ERRORS as exc:
        raise CodeRefused(PASSKEY_REFUSED) from exc
    if not device.confirmed or device.user_id != user.pk:
        raise CodeRefused(PASSKEY_REFUSED)
    return device


def passkey_verify_begin(*, helper, user) -> tuple[dict, dict]:
    """Options asking the browser for one of `user`'s passkeys, and the
    state to keep for `passkey_verify`."""
    return helper.authenticate_begin(user=user, require_user_verification=False)
