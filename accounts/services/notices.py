"""Security notices: the emails that tell people about a change to their
account they may not have made (password, factors, address, roles,
ownership). Each is queued in the outbox in the caller's transaction."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from accounts.models import OutboundEmail
from accounts.services.email_content import site_link
from accounts.services.emails import email_queue, email_queue_many

SECURITY_NOTICES = {
    "password_changed": "Your password was changed",
    "password_reset_by_admin": "An administrator set a new password for your account",
    "mfa_removed": "A two-factor authentication method was removed from your account",
    "mfa_added": "A two-factor authentication method was added to your account",
    "recovery_codes_regenerated": "New recovery codes were created for your account",
    "email_changed": "The email address of your account was changed",
    "roles_elevated": "You were given new management permissions",
    "ownership_transferred": "Ownership of Handover was transferred",
    "impersonation_started": "Someone is viewing your account as you, read-only",
    "passkey_added": "A passkey was added to your account",
    "new_device": "New sign-in to your account",
    "account_banned": "Your account was banned",
    "account_disabled": "Your account was disabled",
}

# The notices each turned off by their own setting (all on by default).
NOTICE_SETTINGS = {
    "new_device": "SECURITY_NOTICE_NEW_DEVICE",
    "account_banned": "SECURITY_NOTICE_BANNED",
    "account_disabled": "SECURITY_NOTICE_DISABLED",
    "mfa_added": "SECURITY_NOTICE_FACTOR_ADDED",
}


def notice_enabled(kind: str) -> bool:
    """Whether the notice `kind` is sent (its setting, on when unset)."""
    name = NOTICE_SETTINGS.get(kind)
    return name is None or bool(getattr(settings, name, True))


def notify_security(
    user, kind: str, *, to: str | None = None, secret: bool = False, **ctx
) -> OutboundEmail | None:
    """Queue a security notice to `user` (or to `to`, e.g. the old address
    after an email change) in the caller's transaction. `kind` is one of
    SECURITY_NOTICES; `ctx` adds details the template shows (actor,
    permissions, factor, old_email, new_email, ...); `secret` when it
    carries a live link (stored sealed). None when its setting turns the
    notice off (`NOTICE_SETTINGS`)."""
    if kind not in SECURITY_NOTICES:
        raise ValueError(f"unknown security notice {kind!r}")
    if not notice_enabled(kind):
        return None
    return email_queue(**_notice(user, kind, to=to, secret=secret, **ctx))


def notify_security_many(notices: list[tuple]) -> list[OutboundEmail]:
    """`notify_security` for many (user, kind, ctx) at once, with one
    INSERT (a batch action's notices); those turned off are left out."""
    messages = [_notice(user, kind, **ctx) for user, kind, ctx in notices if notice_enabled(kind)]
    return email_queue_many(messages) if messages else []


def _notice(user, kind: str, *, to: str | None = None, secret: bool = False, **ctx) -> dict:
    if kind not in SECURITY_NOTICES:
        raise ValueError(f"unknown security notice {kind!r}")
    context = {
        "user": user,
        "kind": kind,
        "headline": SECURITY_NOTICES[kind],
        "when": timezone.now(),
        "account_link": site_link("/account/"),
        "forgot_link": site_link("/password/forgot/"),
        **ctx,
    }
    return {
        "to": to or user.email,
        "template": "security_notice",
        "context": context,
        "user": user,
        "secret": secret,
    }


def notify_passkey_added(user, *, name: str, other_sessions_ended: int) -> OutboundEmail:
    """ "A passkey was added": which one (its name) and whether the other
    sessions were signed out. Queued in the caller's transaction."""
    return notify_security(
        user, "passkey_added", passkey=name, other_sessions_ended=other_sessions_ended
    )
