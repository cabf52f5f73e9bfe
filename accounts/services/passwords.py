"""Passwords and one-time links: an administrator's direct set, reset
links (by an administrator or self-service), sign-in links. (Email
verification links: `verification`.)

Every password change ends the user's sessions and kills their outstanding
tokens. A reset never signs the user in: they sign in afterwards through
the normal page, so a second factor is still asked for.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_otp import devices_for_user

from accounts.models import Invitation, TokenPurpose, User, normalize_email
from accounts.ratelimit import hit
from accounts.services.common import lock_user
from accounts.services.email_content import render_email, site_link
from accounts.services.emails import email_queue
from accounts.services.invitations import invitation_resend
from accounts.services.notices import notify_security
from accounts.services.sessions import sessions_end_all
from accounts.services.tokens import (
    new_token,
    token_issue,
    token_redeem,
    tokens_revoke_all,
)
from accounts.services.verification import address_proven
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies

MAGIC_LINK_TYPES = ("signup", "recovery", "invite")


def _set_password(user: User, password: str, *, must_change: bool = False) -> None:
    validate_password(password, user)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.must_change_password = must_change
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    tokens_revoke_all(user)
    sessions_end_all(user)


@service
def password_set_by_admin(*, actor, user: User, password: str) -> User:
    """An administrator sets `user`'s password. Guards: users:reset-password
    and the user-action guard (not self, not the owner, hierarchy). Ends the
    user's sessions, kills their tokens and tells them by email."""
    action = events.PASSWORD_SET_BY_ADMIN
    user = lock_user(user)
    policies.check_can_reset_password(actor, user, action=action)
    _set_password(user, password)
    audit.record(action, actor=actor, target=user, changes={"password": ["[old]", "[new]"]})
    notify_security(user, "password_reset_by_admin", actor_name=actor.display_name)
    return user


@service
def password_reset_token_create(
    *, actor, user: User, send_email: bool = False, batch_id=None
) -> dict:
    """A one-time reset link for `user` (PASSWORD_RESET_TTL, 24 h), shown
    once to the administrator and optionally emailed to the user.
    Returns {token, expires_at, link}."""
    action = events.PASSWORD_RESET_LINK_CREATED
    user = lock_user(user)
    policies.check_can_send_reset_link(actor, user, batch_id=batch_id)
    if user.deleted_at:
        raise ValidationError("This user is deleted; restore them first.", code="deleted")
    token, row = token_issue(user=user, purpose=TokenPurpose.PASSWORD_RESET, created_by=actor)
    link = site_link(f"/password/reset/{token}/")
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={"expires_at": [None, row.expires_at.isoformat()], "emailed": [None, send_email]},
        batch_id=batch_id,
    )
    if send_email:
        email_queue(
            to=user.email,
            template="password_reset",
            context={"user": user, "link": link, "expires_at": row.expires_at, "by_admin": True},
            user=user,
            secret=True,
        )
    return {"token": token, "expires_at": row.expires_at, "link": link}


def _throttled(key: str, limit: int) -> bool:
    """Count one hit on `key` for an hour; True once past `limit`."""

    return not hit(key, limit=limit, window=3600)


class TooManyRequests(Exception):
    message = "Too many reset requests. Wait an hour and try again."


def password_reset_request(*, email: str, ip: str | None = None) -> None:
    """Self-service: email a reset link to `email` if it belongs to a user
    who may reset. Says nothing either way; does comparable work for an
    unknown address (a token and a rendered email), and every outcome
    (sent, unknown, refused, failed) returns or raises only once
    settings.PASSWORD_FORGOT_MIN_SECONDS have passed, so the page and the
    API answer in the same padded time. Raises TooManyRequests past the
    per-email or per-IP limit, counted the same for known and unknown
    addresses."""
    started = time.monotonic()
    try:
        _password_reset_request_limited(email=email, ip=ip)
    finally:
        pad_to(started, settings.PASSWORD_FORGOT_MIN_SECONDS)


def _password_reset_request_limited(*, email: str, ip: str | None) -> None:
    email = normalize_email(email)[:254]

    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    over_email = _throttled(f"pwforgot:email:{digest}", settings.PASSWORD_FORGOT_LIMIT_PER_EMAIL)
    over_ip = bool(ip) and _throttled(f"pwforgot:ip:{ip}", settings.PASSWORD_FORGOT_LIMIT_PER_IP)
    if over_email or over_ip:
        raise TooManyRequests()
    _password_reset_request(email=email)


@service
def _password_reset_request(*, email: str) -> None:
    user = User.objects.filter(email=email, deleted_at__isnull=True).first()
    can_reset = (
        user is not None
        and user.has_usable_password()
        and not user.disabled_at
        and not (user.banned_until and user.banned_until > timezone.now())
    )
    if not can_reset:
        # Comparable work, no trace: a token and a rendered message.
        token, _digest = new_token()
        render_email(
            "password_reset",
            {"user": User(email=email), "link": site_link(f"/password/reset/{token}/")},
        )
        return
    token, row = token_issue(user=user, purpose=TokenPurpose.PASSWORD_RESET)
    audit.record(events.PASSWORD_RESET_REQUESTED, actor=None, target=user)
    email_queue(
        to=user.email,
        template="password_reset",
        context={
            "user": user,
            "link": site_link(f"/password/reset/{token}/"),
            "expires_at": row.expires_at,
        },
        user=user,
        secret=True,
    )


def pad_to(started: float, seconds: float) -> None:
    """Sleep until `seconds` have passed since `started` (monotonic), so an
    answer's timing does not depend on the branch taken."""
    remaining = seconds - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


@service
def password_reset_complete(
    *, token: str | None = None, password: str, digest: str | None = None
) -> User:
    """Use a reset (or recovery) token: new password, every session ended,
    every other token killed, the user told by email. The user is NOT
    signed in: they sign in with the new password (and their code)."""
    user = token_redeem(token=token, digest=digest, purpose=TokenPurpose.PASSWORD_RESET)
    _set_password(user, password)
    address_proven(user)
    audit.record(
        events.PASSWORD_RESET_COMPLETED,
        actor=user,
        target=user,
        changes={"password": ["[old]", "[new]"]},
    )
    notify_security(user, "password_changed")
    return user


@service
def magic_link_send(*, actor, user: User, type: str = "recovery", batch_id=None) -> str:  # noqa: A002
    """Email `user` a one-time link and return it to the administrator.

    - recovery: a reset link valid MAGIC_LINK_TTL (15 min) -- choose a new
      password, then sign in (with the code if MFA is on);
    - signup / invite: a sign-in link valid 15 min; an account without a
      password sets one first, and the address counts as verified.
    """
    action = events.MAGIC_LINK_SENT
    user = lock_user(user)
    policies.check_can_send_magic_link(actor, user, batch_id=batch_id)
    if type not in MAGIC_LINK_TYPES:
        raise ValidationError(
            "Unknown link type %(type)s; use signup, recovery or invite.",
            code="invalid_type",
            params={"type": type},
        )
    if (
        user.deleted_at
        or user.disabled_at
        or (user.banned_until and user.banned_until > timezone.now())
    ):
        raise ValidationError(
            "This account is %(status)s; it cannot receive a sign-in link.",
            code="inactive",
            params={"status": user.status},
        )
    if type == "invite" and not user.has_usable_password():
        # A pending account: its invitation carries the roles, so send that
        # (with a new token) rather than a bare sign-in link.
        invitation = (
            Invitation.objects.filter(user=user).with_status("open").order_by("-created_at").first()
        )
        if invitation is not None:
            _invitation, link = invitation_resend(actor=actor, invitation=invitation)
            audit.record(
                action, actor=actor, target=user, changes={"type": [None, type]}, batch_id=batch_id
            )
            return link
    ttl = settings.MAGIC_LINK_TTL
    if type == "recovery":
        token, row = token_issue(
            user=user, purpose=TokenPurpose.PASSWORD_RESET, created_by=actor, ttl=ttl
        )
        link = site_link(f"/password/reset/{token}/")
    else:
        token, row = token_issue(
            user=user, purpose=TokenPurpose.MAGIC_LINK, created_by=actor, ttl=ttl
        )
        link = site_link(f"/magic/{token}/")
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={"type": [None, type], "expires_at": [None, row.expires_at.isoformat()]},
        batch_id=batch_id,
    )
    email_queue(
        to=user.email,
        template=f"magic_link_{type}",
        context={
            "user": user,
            "link": link,
            "expires_at": row.expires_at,
            "inviter": actor.display_name,
        },
        user=user,
        secret=True,
    )
    return link


@service
def magic_link_use(
    *, token: str | None = None, password: str | None = None, digest: str | None = None
) -> User:
    """Use a sign-in link: the address counts as verified; an account
    without a password must choose one here (`password`). The caller signs
    the user in unless they have a second factor (never bypassed)."""
    user = token_redeem(token=token, digest=digest, purpose=TokenPurpose.MAGIC_LINK)
    if not user.has_usable_password():
        if not password:
            raise ValidationError("Choose a password.", code="password_required")
        validate_password(password, user)
        user.set_password(password)
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "password_changed_at"])
    address_proven(user)
    audit.record(events.MAGIC_LINK_USED, actor=user, target=user)
    return user


def user_has_second_factor(user: User) -> bool:
    """Whether signing in needs a code (any confirmed django-otp device)."""

    return any(True for _ in devices_for_user(user, confirmed=True))
