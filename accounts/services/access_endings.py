"""Ending a user's access for good when they are banned, disabled or
deleted -- sessions, one-time links and API keys -- and telling them, one
user at a time or collected for a batch's loop of single actions."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import CharField, Value
from django.db.models.functions import Cast

from accounts.models import ApiKey, UserSession
from accounts.services.api_keys import api_keys_revoke
from accounts.services.notices import notify_security, notify_security_many
from accounts.services.sessions import sessions_end_keys
from accounts.services.tokens import tokens_revoke_for_users
from core.compiled import Reused

# Inside `access_endings_collected()`: {reason: [user ids]} still to end,
# and the security notices still to queue.
_collected_endings: ContextVar[dict | None] = ContextVar("access_endings", default=None)
_collected_notices: ContextVar[list | None] = ContextVar("status_notices", default=None)


def notify_status(user, kind: str, **ctx) -> None:
    """Tell `user` about a change of their status (a security notice);
    inside `access_endings_collected()` with one INSERT at the block's end."""
    collected = _collected_notices.get()
    if collected is not None:
        collected.append((user, kind, ctx))
        return
    notify_security(user, kind, **ctx)


def end_access(user, *, reason: str) -> None:
    """Banning, disabling or deleting ends every way in for good: sessions,
    one-time links and API keys (a restore or unban does not revive them).
    Inside `access_endings_collected()` the ending waits for the block's
    end, in the same transaction."""
    collected = _collected_endings.get()
    if collected is not None:
        collected.setdefault(reason, []).append(user.pk)
        return
    _end_access_of([user.pk], reason=reason)


def _end_access_of(user_ids, *, reason: str) -> None:
    """Three statements whatever the users hold: the open sessions and live
    keys found with one query, the links spent with one update; ending
    what was found costs more only when there is something to end."""
    user_ids = list(user_ids)
    session_keys, key_ids = _live_credentials(user_ids)
    sessions_end_keys(session_keys)
    tokens_revoke_for_users(user_ids)
    api_keys_revoke(key_ids, reason=reason)


def _live_credentials(user_ids) -> tuple[list, list]:
    """The keys of the users' open sessions and the ids of their live API
    keys, in one query (a UNION ALL of the two reads)."""
    # Each branch gets its own copies of the ids: `Reused` puts each value
    # given once back where the first call's was.
    found: dict[str, list] = {"session": [], "key": []}
    for kind, ref in _live_credentials_rows(user_ids, [_copy(pk) for pk in user_ids]):
        found[kind].append(ref)
    return found["session"], [ApiKey._meta.pk.to_python(ref) for ref in found["key"]]


def _copy(pk):
    return uuid.UUID(int=pk.int) if isinstance(pk, uuid.UUID) else pk


def _live_credentials_query(session_user_ids, key_user_ids):
    sessions = (
        UserSession.objects.filter(user_id__in=session_user_ids, ended_at__isnull=True)
        .annotate(kind=Value("session"), ref=Cast("session_key", CharField()))
        .values_list("kind", "ref")
        .order_by()  # SQLite allows no ORDER BY inside a compound statement
    )
    keys = (
        ApiKey.objects.filter(user_id__in=key_user_ids, revoked_at__isnull=True)
        .annotate(kind=Value("key"), ref=Cast("pk", CharField()))
        .values_list("kind", "ref")
        .order_by()
    )
    return sessions.union(keys, all=True)


# Compiled by the ORM once per number of users (one, for a single ban),
# not on every ban: the union of two annotated reads was the most costly
# statement of a ban to compile (~12 % of its client CPU; core.compiled).
_live_credentials_rows = Reused(_live_credentials_query)


@contextmanager
def access_endings_collected():
    """End the access of every user the block's actions end (`end_access`)
    with set-based statements at its end instead of a few per user, and
    queue their notices with one -- a batch's loop of single actions. The
    caller's transaction must enclose the block."""
    if _collected_endings.get() is not None:
        yield
        return
    token = _collected_endings.set({})
    notices_token = _collected_notices.set([])
    try:
        yield
        collected = _collected_endings.get()
        notices = _collected_notices.get()
    finally:
        _collected_endings.reset(token)
        _collected_notices.reset(notices_token)
    for reason, user_ids in collected.items():
        _end_access_of(user_ids, reason=reason)
    notify_security_many(notices)
