"""Signed-in sessions: recording them at sign-in and ending them.

Sessions are stored in the database (SESSION_ENGINE=db), so deleting the
session row ends it on every web process at its next request.
"""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import UserSession
from audit import context


def session_record(*, request, user) -> UserSession:
    """Record the session just started for `user` (called after login())."""
    if not request.session.session_key:
        request.session.save()
    ctx = context.current()
    now = timezone.now()
    session, _ = UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "ip": ctx.ip,
            "user_agent": ctx.user_agent,
            "created_at": now,
            "last_seen_at": now,
            "ended_at": None,
            "reauthenticated_at": now,
        },
    )
    return session


def _end(queryset) -> int:
    keys = list(queryset.filter(ended_at__isnull=True).values_list("session_key", flat=True))
    if not keys:
        return 0
    Session.objects.filter(session_key__in=keys).delete()
    return queryset.filter(session_key__in=keys).update(ended_at=timezone.now())


def sessions_end_all(user, *, except_key: str | None = None) -> int:
    """End every open session of `user` (but `except_key`). No guard and no
    audit row: the calling service (ban, disable, delete, password reset,
    revoke) checks and records. Returns how many were ended."""
    qs = UserSession.objects.filter(user=user)
    if except_key:
        qs = qs.exclude(session_key=except_key)
    return _end(qs)


def sessions_end_for_users(user_ids) -> int:
    """Set-based variant for batch actions."""
    return _end(UserSession.objects.filter(user_id__in=list(user_ids)))
