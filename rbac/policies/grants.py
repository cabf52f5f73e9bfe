"""Deferred grants, re-checked when used (design.md, "Authority is decided
where it takes effect"): an administrator's reset or sign-in link and each
chunk of a background job record who made them and through which
credential (`accounts.models.MadeThrough`). When used, the grant dies with
that credential (the session ended, the key revoked or expired), with its
maker's account, or when the maker's own guard -- asked again, the maker
loaded fresh and acting through that credential, on the locked target --
no longer lets it through."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import ApiKey, User, UserSession
from rbac import credentials
from rbac.actor import Actor
from rbac.policies.base import PolicyDenied

# Kinds a grant may be made through and still be used later. Anything else
# (none recorded, a user object without a credential) is ended: fail closed.
_LIVE_KINDS = (credentials.SESSION, credentials.API_KEY, credentials.CONSOLE)


def session_is_open(session_key: str, user_id) -> bool:
    """Whether the dashboard session `session_key` of `user_id` is still
    signed in (neither ended nor expired)."""
    if not session_key:
        return False
    now = timezone.now()
    return (
        UserSession.objects.filter(
            session_key=session_key, user_id=user_id, ended_at__isnull=True
        ).exists()
        and Session.objects.filter(session_key=session_key, expire_date__gt=now).exists()
    )


def _live_key(key_id, user_id) -> ApiKey | None:
    key = ApiKey.objects.filter(pk=key_id, user_id=user_id).first() if key_id else None
    if key is None or key.revoked_at or (key.expires_at and key.expires_at <= timezone.now()):
        return None
    return key


def credential_end(grant, user) -> str:
    """Why the credential `grant` was made through no longer works for
    `user` (its maker), in words for the audit log and the jobs page; ""
    while it does."""
    via = grant.created_via
    if via == credentials.CONSOLE:
        return ""
    if via == credentials.SESSION:
        if session_is_open(grant.created_via_session, user.pk):
            return ""
        return "the session it was made in has ended"
    if via == credentials.API_KEY:
        if _live_key(grant.created_via_key_id, user.pk) is not None:
            return ""
        return "the API key it was made through was revoked or has expired"
    return "it does not record a credential that is still valid"


def acting_through(user, grant) -> Actor:
    """`user` (loaded fresh) acting again through the credential `grant`
    was made through: a key's scopes, a session's every scope, never a
    fresh proof. The caller has checked `credential_end(grant, user)`.
    With no `grant` (an invitation, which records no credential), the maker
    as they are now, with every permission they hold."""
    via = getattr(grant, "created_via", None)
    if via == credentials.API_KEY:
        return Actor.for_api_key(user, ApiKey.objects.get(pk=grant.created_via_key_id))
    if via == credentials.SESSION:
        return Actor.for_session(user, grant.created_via_session)
    return Actor.console(user)


def _withdrawn(why: str, *, action: str, maker, target, missing=()) -> PolicyDenied:
    return PolicyDenied(
        "link_withdrawn",
        f"This link was withdrawn: {why}. Ask for a new link if you still need one.",
        action=action,
        actor=maker,
        target=target,
        missing=missing,
    )


def check_link_still_granted(row, user, *, guard, action: str) -> None:
    """A link an administrator made (`row`, a one-time token with a maker)
    is about to be used on `user` (locked by the caller): its maker must
    still be active, the credential they made it through still valid, and
    their named `guard` (the one the service that made it asks, e.g.
    `check_can_reset_password`) must still let them through. A link
    nobody made (self-service) needs none of this."""
    if row.created_by_id is None:
        return
    maker = User.objects.filter(pk=row.created_by_id).first()
    if maker is None or not maker.is_active:
        raise _withdrawn(
            "the person who made it no longer has an active account",
            action=action,
            maker=maker,
            target=user,
        )
    ended = credential_end(row, maker)
    if ended:
        raise _withdrawn(ended, action=action, maker=maker, target=user)
    try:
        guard(acting_through(maker, row), user, action=action)
    except PolicyDenied as exc:
        raise _withdrawn(
            _GUARD_WORDS.get(exc.code, _GUARD_WORDS[""]),
            action=action,
            maker=maker,
            target=user,
            missing=exc.missing,
        ) from exc


# Why the maker's guard now refuses, in words for the person holding the
# link (the audit row keeps the missing permissions).
_GUARD_WORDS = {
    "hierarchy": "this account now has access the person who made it does not",
    "peer": "this account now has as much access as the person who made it",
    "owner_protected": "this account is now the owner's",
    "permission_denied": "the person who made it may no longer reset passwords",
    "": "the person who made it may no longer give access to this account",
}


def job_credential_end(job, user) -> str:
    """Why a background job may not run its next chunk for `user` (its
    creator, loaded fresh): their account stopped being active, or the
    credential that queued it ended. "" while it may."""
    if user is None or not user.is_active:
        return "Credential ended: the person who started it no longer has an active account."
    ended = credential_end(job, user)
    return f"Credential ended: {ended}." if ended else ""
