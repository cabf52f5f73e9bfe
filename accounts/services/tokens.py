"""One-time tokens (password reset, sign-in link, email verification).

A token is >=128 bits from `secrets`, shown once, stored only as a SHA-256
hash and compared by looking up that hash (the lookup is on a keyed digest,
so timing reveals nothing about the plaintext).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import OneTimeToken, TokenPurpose, User
from accounts.services.common import lock_user
from audit import events
from core.services import service
from rbac import policies
from rbac.actor import as_actor, person_of


def new_token() -> tuple[str, str]:
    """(plaintext, hash). 32 random bytes = 256 bits."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_revoke_all(user) -> int:
    """Kill every outstanding token of `user` (password change, ban,
    disable, delete). The caller audits the change that caused it."""
    return OneTimeToken.objects.filter(user=user, used_at__isnull=True).update(
        used_at=timezone.now()
    )


def tokens_revoke_for_users(user_ids) -> int:
    return OneTimeToken.objects.filter(user_id__in=list(user_ids), used_at__isnull=True).update(
        used_at=timezone.now()
    )


# --- issuing and redeeming ------------------------------------------------

TOKEN_TTLS = {
    TokenPurpose.PASSWORD_RESET: "PASSWORD_RESET_TTL",
    TokenPurpose.MAGIC_LINK: "MAGIC_LINK_TTL",
    TokenPurpose.EMAIL_VERIFY: "EMAIL_VERIFY_TTL",
    TokenPurpose.SIGN_IN_REPORT: "SIGN_IN_REPORT_TTL",
}


class TokenInvalid(Exception):
    """A token that cannot be used. `reason` is unknown, used, expired or
    inactive; `message` says what to do next."""

    MESSAGES = {
        "unknown": "This link is not valid. Check that you copied all of it, or ask for a new one.",
        "used": "This link was already used. Ask for a new one if you still need it.",
        "expired": "This link has expired. Ask for a new one.",
        "inactive": "This account cannot use this link. Contact your administrator.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason
        self.message = self.MESSAGES[reason]


def _now():
    """The clock, as a seam for tests."""
    return timezone.now()


def token_issue(*, user, purpose: str, created_by=None, ttl: timedelta | None = None):
    """Create a token for `user`; returns (plaintext, row). The plaintext is
    never stored: hand it to the person once (link, email) and forget it.
    A token an administrator makes (`created_by`: their actor) records the
    credential they made it through; using it asks their guard again
    (`policies.check_link_still_granted`)."""

    token, digest = new_token()
    ttl = ttl or getattr(settings, TOKEN_TTLS[purpose])
    now = _now()
    row = OneTimeToken(
        user=user,
        purpose=purpose,
        token_hash=digest,
        created_by=person_of(created_by) if created_by is not None else None,
        created_at=now,
        expires_at=now + ttl,
    )
    if created_by is not None:
        row.record_credential(as_actor(created_by).credential)
    row.save(force_insert=True)
    return token, row


# What using an administrator's link asks again: the guard of the service
# that made it (`password_reset_token_create` and `magic_link_send` both ask
# `check_can_reset_password`), under the action that uses it.
_REUSED_GUARDS = {
    TokenPurpose.PASSWORD_RESET: (
        policies.check_can_reset_password,
        events.PASSWORD_RESET_COMPLETED,
    ),
    TokenPurpose.MAGIC_LINK: (policies.check_can_reset_password, events.MAGIC_LINK_USED),
}


def _still_granted(row: OneTimeToken, user: User) -> None:
    """Raise `PolicyDenied` ("link_withdrawn") when the maker of `row` may no
    longer give it (see `policies.check_link_still_granted`)."""
    reused = _REUSED_GUARDS.get(row.purpose)
    if reused is not None:
        guard, action = reused
        policies.check_link_still_granted(row, user, guard=guard, action=action)


def _check(row: OneTimeToken | None) -> OneTimeToken:
    if row is None:
        raise TokenInvalid("unknown")
    if row.used_at is not None:
        raise TokenInvalid("used")
    if row.expires_at <= _now():
        raise TokenInvalid("expired")
    user = row.user
    if user.deleted_at or user.disabled_at or (user.banned_until and user.banned_until > _now()):
        raise TokenInvalid("inactive")
    # Belt and braces: a password change kills older tokens even if the
    # code that changed it forgot to call tokens_revoke_all.
    if user.password_changed_at and row.created_at < user.password_changed_at:
        raise TokenInvalid("used")
    return row


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def lookup_digest(token: str | None = None, digest: str | None = None) -> str | None:
    """The hash to look a token up by: from the plaintext (a link), or the
    digest itself (kept in the session after the link was opened, so the
    session table holds no usable token either). Never build `digest` from
    user input: it would turn a leaked hash into a working token."""
    if digest is not None:
        return digest if _HEX64.match(digest) else None
    if not token or len(token) > 200:
        return None
    return hash_token(token)


@service
def token_peek(
    *, token: str | None = None, purpose: str, digest: str | None = None
) -> OneTimeToken:
    """The usable token row for `token`, without using it (to show a form).
    Raises `TokenInvalid`, or `PolicyDenied` (put on the record) when an
    administrator's link was withdrawn since it was made."""
    digest = lookup_digest(token, digest)
    if digest is None:
        raise TokenInvalid("unknown")
    row = (
        OneTimeToken.objects.select_related("user")
        .filter(token_hash=digest, purpose=purpose)
        .first()
    )
    row = _check(row)
    _still_granted(row, row.user)
    return row


def token_consume(
    *, token: str | None = None, purpose: str, digest: str | None = None
) -> OneTimeToken:
    """Use `token` once: lock the row, check it, mark it used. The caller
    holds the transaction, so a failure later in it un-uses the token."""
    digest = lookup_digest(token, digest)
    if digest is None:
        raise TokenInvalid("unknown")
    row = (
        OneTimeToken.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(token_hash=digest, purpose=purpose)
        .first()
    )
    row = _check(row)
    row.used_at = _now()
    row.save(update_fields=["used_at"])
    return row


def token_redeem(*, token: str | None = None, purpose: str, digest: str | None = None) -> User:
    """Use `token` once (`token_consume`) and return its user, locked for
    the rest of the caller's transaction. An administrator's link is judged
    again on the locked user: its maker's guard, as they are now, through
    the credential they made it with (`PolicyDenied` "link_withdrawn")."""
    row = token_consume(token=token, digest=digest, purpose=purpose)
    user = lock_user(row.user_id)
    _still_granted(row, user)
    return user
