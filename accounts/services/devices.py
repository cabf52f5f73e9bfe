"""Known devices and the notice of a sign-in from a new one.

A browser is known by a random device cookie (`DEVICE_COOKIE`, 256 bits,
HttpOnly, a year long); the database keeps only its SHA-256 per user
(`KnownDevice`). A sign-in from a browser whose cookie is not known for that
user is a new device: it is remembered and, unless it is the user's very
first (an invitation accepted, the first sign-in after this feature), the
user is told by email with a "This wasn't me" link -- a one-time token that
signs out every session and starts a password reset
(`sign_in_report`).

The new cookie's value waits in the session (`NEW_COOKIE_SESSION_KEY`)
until `accounts.middleware.DeviceCookieMiddleware` sets it on the response.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import KnownDevice, TokenPurpose
from accounts.security import describe_user_agent
from accounts.services.api_keys import api_keys_revoke_all
from accounts.services.email_content import site_link
from accounts.services.notices import notice_enabled, notify_security
from accounts.services.sessions import sessions_end_all
from accounts.services.tokens import hash_token, token_issue, token_redeem, tokens_revoke_all
from audit import context, events
from audit import services as audit
from core.services import service

DEVICE_COOKIE = "hv_device"
NEW_COOKIE_SESSION_KEY = "_hv_device_cookie"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600


def _valid_cookie(value: str | None) -> bool:
    if not value or not 32 <= len(value) <= 64:
        return False
    return value.replace("-", "").replace("_", "").isalnum()


def device_sign_in(request, user) -> bool:
    """Note the browser `user` just signed in with. Returns True when it is
    new beside the ones they signed in with before (and queues the notice,
    unless it is turned off); the very first one is remembered quietly."""
    cookie = request.COOKIES.get(DEVICE_COOKIE)
    if not _valid_cookie(cookie):
        cookie = None
    ctx = context.current()
    now = timezone.now()
    if cookie is not None:
        known = KnownDevice.objects.filter(user=user, cookie_hash=hash_token(cookie))
        if known.update(last_seen_at=now, ip=ctx.ip, user_agent=ctx.user_agent[:500]):
            return False
    else:
        cookie = secrets.token_urlsafe(32)
        request.session[NEW_COOKIE_SESSION_KEY] = cookie
    with transaction.atomic():
        first = not KnownDevice.objects.filter(user=user).exists()
        try:
            with transaction.atomic():
                KnownDevice.objects.create(
                    user=user,
                    cookie_hash=hash_token(cookie),
                    user_agent=ctx.user_agent[:500],
                    ip=ctx.ip,
                    first_seen_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # the same browser signing in twice at once
            return False
        if first:
            return False
        new_device_notify(user, user_agent=ctx.user_agent, ip=ctx.ip)
    return True


def new_device_notify(user, *, user_agent: str, ip: str | None) -> None:
    """Tell `user` about a sign-in from a new device, with a one-time
    "This wasn't me" link (SIGN_IN_REPORT_TTL). Inside the caller's
    transaction; nothing when the notice is turned off."""
    if not notice_enabled("new_device"):
        return
    token, row = token_issue(user=user, purpose=TokenPurpose.SIGN_IN_REPORT)
    notify_security(
        user,
        "new_device",
        device=describe_user_agent(user_agent),
        ip=ip or "an unknown address",
        report_link=site_link(f"/sign-in/not-me/{token}/"),
        report_expires_at=row.expires_at,
        secret=True,
    )


@service
def sign_in_report(*, token: str | None = None, digest: str | None = None) -> str:
    """ "This wasn't me": use the report link once, sign out every session
    of its user, end their other one-time links, revoke their API keys, and
    start a password reset.
    Returns the new reset token (the page takes the browser straight to it).
    The one-time token is the guard: unused, unexpired, an active account
    (`tokens._check`); the row is locked while it is used."""
    user = token_redeem(token=token, digest=digest, purpose=TokenPurpose.SIGN_IN_REPORT)
    ended = sessions_end_all(user)
    tokens_revoke_all(user)
    # A key the intruder made would outlive the sessions: the account's
    # keys go too (the user makes new ones after choosing a new password).
    keys = api_keys_revoke_all(user, reason="sign-in reported")
    reset_token, row = token_issue(
        user=user, purpose=TokenPurpose.PASSWORD_RESET, ttl=settings.MAGIC_LINK_TTL
    )
    audit.record(
        events.SIGN_IN_REPORTED,
        actor=user,
        target=user,
        changes={
            "sessions_ended": ended,
            "keys_revoked": keys,
            "reset_expires_at": row.expires_at.isoformat(),
        },
    )
    return reset_token
