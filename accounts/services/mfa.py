"""Multi-factor authentication with django-otp: an authenticator app (TOTP)
plus ten single-use recovery codes (a static device).

django-otp does the cryptography, refuses a TOTP code at or before the last
accepted time step (no reuse) and throttles failures (1, 2, 4, 8 ... seconds
per device). Recovery codes are stored as a keyed hash (HMAC with the
SECRET_KEY), never in clear, and django-otp deletes a static token when it is
used, so each code works once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.security import factor_device, factor_id, has_mfa
from accounts.services.common import lock_user
from accounts.services.emails import email_queue
from accounts.services.notices import notify_security
from accounts.services.sessions import sessions_end_all
from audit import events
from audit import services as audit
from core.services import NotFound, service
from rbac import policies
from rbac.actor import as_actor

RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without look-alikes (0/o, 1/l/i).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_SHAPE = re.compile(r"^[a-z0-9]{10}$")
WRONG_CODE = "That code is not right. Check your authenticator app and try again."
THROTTLED = "After {wrong}, wait {wait} before the next try."


class CodeRefused(Exception):
    """A code was not accepted; `message` is for people."""

    def __init__(self, message: str, *, throttled: bool = False):
        super().__init__(message)
        self.message = message
        self.throttled = throttled


# --- codes ---------------------------------------------------------------------


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "")).lower()


def hash_recovery_code(code: str) -> str:
    """What is stored for a recovery code: 16 hex characters of an HMAC
    (StaticToken.token holds at most 16 characters)."""
    return salted_hmac("handover.mfa.recovery-code", normalize_code(code)).hexdigest()[:16]


def _throttle_message(device) -> str | None:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    locked_until = (info or {}).get("locked_until")
    failures = (info or {}).get("failure_count") or 1
    seconds = 1
    if locked_until is not None:
        seconds = max(1, int((locked_until - timezone.now()).total_seconds() + 0.999))
    wrong = "a wrong code" if failures == 1 else f"{failures} wrong codes in a row"
    wait = "1 second" if seconds == 1 else f"{seconds} seconds"
    return THROTTLED.format(wrong=wrong, wait=wait)


@dataclass(frozen=True)
class Verified:
    device: object
    method: str  # "totp" or "recovery_code"


def mfa_verify(*, user, code: str) -> Verified:
    """Check a sign-in or re-authentication code: six digits go to the
    authenticator app, anything else is tried as a recovery code (used up
    when it matches). Raises CodeRefused. The caller signs the user in and
    records the outcome; a refusal also counts towards the lockout there."""
    code = normalize_code(code)
    if code.isdigit() and len(code) == 6:
        devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
        method, token = "totp", code
    elif _RECOVERY_SHAPE.match(code):
        devices = list(StaticDevice.objects.filter(user=user, confirmed=True))
        method, token = "recovery_code", hash_recovery_code(code)
    else:
        raise CodeRefused(WRONG_CODE)
    if not devices:
        raise CodeRefused(WRONG_CODE)
    for device in devices:
        message = _throttle_message(device)
        if message:
            raise CodeRefused(message, throttled=True)
    # Each verify_token runs in its own transaction so a failure's throttle
    # increment is kept even when the caller's request fails afterwards.
    for device in devices:
        with transaction.atomic():
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(token):
                return Verified(device=locked, method=method)
    raise CodeRefused(WRONG_CODE)


# --- enrolment -------------------------------------------------------------------------
# Every factor change (a first factor, a replacement, new recovery codes, a
# removal) goes through its named guard with a fresh proof, records what was
# removed and added, tells the user, and ends the account's other sessions:
# whoever else was in the account (a leaked password, a stolen cookie) is
# out once the user secures it.


@service
def totp_enrol_begin(*, actor, device_id: int | None = None) -> TOTPDevice:
    """The unconfirmed authenticator app this browser is setting up: the one
    `device_id` names while it is still pending (the caller keeps the id in
    its session, so reloading keeps the QR code valid), else a new one with
    a new secret. A secret is never shared between sessions, so one shown
    to another browser (an intruder's) is never the one the user confirms.
    Nothing is audited until it is confirmed."""
    if device_id is not None:
        pending = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device_id, user=actor.user, confirmed=False)
            .first()
        )
        if pending is not None:
            return pending
    return TOTPDevice.objects.create(user=actor.user, name="Authenticator app", confirmed=False)


def replace_recovery_codes(user) -> list[str]:
    """Ten new recovery codes for `user` (the old ones stop working)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Recovery codes", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=hash_recovery_code(c)) for c in codes]
    )
    device.throttle_reset(commit=True)
    return codes


def totp_enrol_confirm(
    *, actor, device: TOTPDevice, code: str, keep_session_key: str | None = None
) -> list[str]:
    """Confirm the authenticator app with a code from it, and create the
    recovery codes; a confirmed app is replaced. Needs a fresh proof (the
    guard of `_totp_confirm`); every session of `actor` but
    `keep_session_key` ends. Returns the codes in clear: show them once,
    they are not stored. Raises ValidationError on a wrong code (and the
    failure counts towards django-otp's throttle, so the check is outside
    the service's transaction that would roll it back), PolicyDenied without
    a fresh proof."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = (
            TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=actor.user).first()
        )
        if locked is None or locked.confirmed:
            raise ValidationError(
                "This setup has expired. Start again from your account page.", code="stale"
            )
        message = _throttle_message(locked)
        if message:
            raise ValidationError(message, code="throttled")
        accepted = locked.verify_token(normalize_code(code))
    if not accepted:
        raise ValidationError(WRONG_CODE, code="wrong_code")
    return _totp_confirm(actor=actor, device=locked, keep_session_key=keep_session_key)


@service
def _totp_confirm(*, actor, device: TOTPDevice, keep_session_key: str | None) -> list[str]:
    # Lock the account's apps, then ask the guard of what this is: a first
    # factor or a replacement.
    user = actor.user
    apps = list(TOTPDevice.objects.select_for_update().filter(user=user).order_by("id"))
    locked = next((d for d in apps if d.pk == device.pk), None)
    if locked is None or locked.confirmed:
        raise ValidationError("This authenticator app is already set up.", code="stale")
    replaced = [d for d in apps if d.confirmed]
    if replaced:
        policies.check_can_replace_mfa(actor)
    else:
        policies.check_can_enrol_mfa(actor)
    # The replaced app goes, and so do secrets other browsers were shown.
    TOTPDevice.objects.filter(user=user).exclude(pk=locked.pk).delete()
    locked.confirmed = True
    locked.save(update_fields=["confirmed"])
    codes = replace_recovery_codes(user)
    ended = sessions_end_all(user, except_key=keep_session_key)
    before = [factor_id(d) for d in replaced]
    audit.record(
        events.MFA_REPLACED if replaced else events.MFA_ENROLLED,
        actor=actor,
        target=user,
        changes={
            "factor": [(before[0] if len(before) == 1 else before) or None, factor_id(locked)],
            "recovery_codes": RECOVERY_CODE_COUNT,
            "other_sessions_ended": ended,
        },
    )
    notify_security(
        user,
        "mfa_added",
        actor_name="You",
        factor="authenticator app",
        replaced=bool(replaced),
        other_sessions_ended=ended,
    )
    return codes


@service
def recovery_codes_regenerate(
    *, actor, current_password: str | None = None, keep_session_key: str | None = None
) -> list[str]:
    """Replace `actor`'s recovery codes with ten new ones (the old ones stop
    working). Needs a confirmed authenticator app and a fresh proof; every
    session of `actor` but `keep_session_key` ends."""
    policies.check_can_regenerate_recovery_codes(actor, password=current_password)
    lock_user(actor.user)
    if not has_mfa(actor.user):
        raise ValidationError(
            "Set up an authenticator app or a passkey before creating recovery codes.",
            code="no_mfa",
        )
    codes = replace_recovery_codes(actor.user)
    ended = sessions_end_all(actor.user, except_key=keep_session_key)
    audit.record(
        events.MFA_RECOVERY_CODES_REGENERATED,
        actor=actor,
        target=actor.user,
        changes={"recovery_codes": RECOVERY_CODE_COUNT, "other_sessions_ended": ended},
    )
    notify_security(
        actor.user, "recovery_codes_regenerated", actor_name="You", other_sessions_ended=ended
    )
    return codes


# --- removal ---------------------------------------------------------------------


def _factor_label(device) -> str:
    if isinstance(device, TOTPDevice):
        return "authenticator app"
    if isinstance(device, WebAuthnCredential):
        return f'passkey "{device.name}"' if device.name else "passkey"
    return "recovery codes"


def _other_primary_factors(user, device) -> bool:
    """Whether `user` keeps an authenticator app or a passkey once `device`
    is gone (the recovery codes go with the last one)."""
    apps = TOTPDevice.objects.filter(user=user, confirmed=True)
    keys = WebAuthnCredential.objects.filter(user=user, confirmed=True)
    if isinstance(device, TOTPDevice):
        apps = apps.exclude(pk=device.pk)
    else:
        keys = keys.exclude(pk=device.pk)
    return apps.exists() or keys.exists()


@service
def mfa_device_remove(
    *,
    actor,
    user,
    device_id: str,
    current_password: str | None = None,
    keep_session_key: str | None = None,
) -> None:
    """Remove one factor of `user` (seed: removeMfaFactor). Your own with a
    fresh proof, which tells you and ends your sessions but
    `keep_session_key`; anyone else's with mfa:reset, which also notifies
    them and ends all their sessions. Removing the last authenticator app or
    passkey removes the recovery codes with it.

    `device_id` is a factor id as listed by accounts.security.factors_for_user.
    """
    action = events.MFA_REMOVED
    by_self = actor is not None and actor.pk == user.pk
    user = lock_user(user)
    policies.check_can_remove_mfa(actor, user, password=current_password)
    device = factor_device(user, device_id)
    if device is None:
        # Not a refusal: asked after the guard, so only someone allowed to
        # remove this user's factors learns which exist.
        raise NotFound("This factor does not exist (it may have been removed already).")
    removed = [factor_id(device)]
    device = type(device).objects.select_for_update().get(pk=device.pk)
    primary = isinstance(device, (TOTPDevice, WebAuthnCredential))
    if primary and not _other_primary_factors(user, device):
        for static in StaticDevice.objects.filter(user=user):
            removed.append(factor_id(static))
            static.delete()
    device.delete()
    # The sessions were verified with the removed factor: they end with this
    # transaction (a deleted session row is signed out everywhere), but for
    # the one you removed your own factor in.
    ended = sessions_end_all(user, except_key=keep_session_key if by_self else None)
    audit.record(
        action,
        actor=actor,
        target=user,
        reason="" if by_self else "Removed by an administrator.",
        changes={"factors": [removed, None], "other_sessions_ended": ended},
    )
    if by_self:
        # Someone holding the password and a code could do this too: tell
        # the owner of the address (an administrator's removal has its own
        # message below, never both).
        notify_security(
            user,
            "mfa_removed",
            actor_name="You",
            factor=_factor_label(device),
            other_sessions_ended=ended,
        )
    else:
        email_queue(
            to=user.email,
            template="mfa_factor_removed",
            context={"user": user, "removed_by": actor, "factors": removed},
            user=user,
        )
