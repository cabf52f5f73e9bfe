"""Signed-in sessions: recording them at sign-in and ending them.

Sessions are stored in the database (SESSION_ENGINE=db), so deleting the
session row ends it on every web process at its next request.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import BatchJob, OneTimeToken, UserSession
from accounts.security import describe_user_agent
from accounts.services.common import lock_user
from accounts.services.jobs import jobs_stop_with_credentials
from audit import context, events
from audit import services as audit
from core.services import NotFound, service
from rbac import credentials, policies

# When SessionActivityMiddleware last wrote "last seen" (epoch seconds).
SEEN_SESSION_KEY = "_hv_seen"


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
            "last_seen_at": now,
            "ended_at": None,
            "reauthenticated_at": now,
        },
        # A row that followed its key here (the code step of a session
        # already signed in) keeps when it started.
        create_defaults={
            "user": user,
            "ip": ctx.ip,
            "user_agent": ctx.user_agent,
            "created_at": now,
            "last_seen_at": now,
            "reauthenticated_at": now,
        },
    )
    request.session[SEEN_SESSION_KEY] = int(now.timestamp())
    return session


def session_follow(*, old_key: str | None, new_key: str | None, user) -> None:
    """The browser's session got a new key: its row (in the sessions list)
    follows, when it was `user`'s and still open; any other row under the
    old key ends (the old key is dead either way)."""
    if not old_key or old_key == new_key:
        return
    rows = UserSession.objects.filter(session_key=old_key, ended_at__isnull=True)
    if user is not None and new_key and rows.filter(user=user).update(session_key=new_key):
        # The same session under a new key: the links and jobs it made go on
        # with it (they die with the session, not with a key it outgrew).
        for model in (BatchJob, OneTimeToken):
            model.objects.filter(
                created_via=credentials.SESSION, created_via_session=old_key
            ).update(created_via_session=new_key)
        return
    session_end_by_key(old_key)


def session_rotate(request) -> None:
    """Give this browser's session a new key, keeping its data (ASVS 5.0
    7.2.4: whenever the session proves more -- a re-authentication, a second
    factor). The old key stops working at once; the row follows."""
    old_key = request.session.session_key
    request.session.cycle_key()
    session_follow(old_key=old_key, new_key=request.session.session_key, user=request.user)


def _end(queryset) -> int:
    keys = list(queryset.filter(ended_at__isnull=True).values_list("session_key", flat=True))
    return sessions_end_keys(keys)


def sessions_end_keys(keys) -> int:
    """End the open sessions `keys` (the caller found them open, and
    checks and records why): their data deleted, their rows marked ended,
    the jobs they queued stopped. No query when `keys` is empty."""
    keys = list(keys)
    if not keys:
        return 0
    Session.objects.filter(session_key__in=keys).delete()
    ended = UserSession.objects.filter(session_key__in=keys, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    jobs_stop_with_credentials(session_keys=keys)
    return ended


def session_end_by_key(session_key: str | None) -> None:
    """Mark the session `session_key` ended (signing out, or a sign-in that
    replaced it with a new key); the caller deals with the session data.
    The jobs it queued stop with it."""
    if not session_key:
        return
    UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    jobs_stop_with_credentials(session_keys=[session_key])


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


# --- activity, revocation and re-authentication ----------------------------------

# Last seen is written at most this often per session, not on every request.
TOUCH_INTERVAL_SECONDS = 60


def session_touch(*, session_key: str, user) -> bool:
    """Note that the session was used now. Returns False when the session
    was ended (the caller signs it out). A session started without
    `session_record` (e.g. by another sign-in path) is recorded here."""
    now = timezone.now()
    updated = UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        last_seen_at=now
    )
    if updated:
        return True
    existing = UserSession.objects.filter(session_key=session_key).first()
    if existing is not None:
        return existing.user_id == user.pk and existing.ended_at is None
    ctx = context.current()
    UserSession.objects.create(
        session_key=session_key,
        user=user,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        created_at=now,
        last_seen_at=now,
    )
    return True


@service
def session_revoke(*, actor, user, session_id, current_password: str | None = None) -> bool:
    """End one session of `user` (the signed-in user's own, or another
    user's with sessions:revoke). The user is locked and the guard asked
    before the session is looked up, so a refused caller learns nothing of
    which session ids exist. Effective at that browser's next request on any
    web process. Returns False when it had already ended."""
    action = events.SESSION_REVOKED
    user = lock_user(user)
    policies.check_can_end_sessions(actor, user, action=action, password=current_password)
    try:
        locked = UserSession.objects.select_for_update().get(pk=int(session_id), user=user)
    except (UserSession.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such session.") from None
    if locked.ended_at is not None:
        return False
    _end(UserSession.objects.filter(pk=locked.pk))
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={
            "session": [locked.pk, None],
            "device": describe_user_agent(locked.user_agent),
            "ip": locked.ip,
        },
    )
    return True


@service
def sessions_revoke_all(
    *, actor, user, except_key: str | None = None, current_password: str | None = None
) -> int:
    """End every open session of `user` but `except_key` (the caller's own,
    when they sign out their other devices). Returns how many ended."""
    action = events.SESSION_REVOKED_ALL
    user = lock_user(user)
    policies.check_can_end_sessions(actor, user, action=action, password=current_password)
    list(
        UserSession.objects.select_for_update()
        .filter(user=user, ended_at__isnull=True)
        .values_list("pk", flat=True)
    )
    ended = sessions_end_all(user, except_key=except_key)
    if not ended:
        return 0
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={"sessions_ended": ended, "kept_current": bool(except_key)},
    )
    return ended


def reauth_is_recent(session_key: str | None, *, now=None) -> bool:
    """Whether the password (and code) were entered in this session within
    settings.REAUTH_WINDOW."""
    if not session_key:
        return False
    now = now or timezone.now()
    at = (
        UserSession.objects.filter(session_key=session_key, ended_at__isnull=True)
        .values_list("reauthenticated_at", flat=True)
        .first()
    )
    return at is not None and now - at <= settings.REAUTH_WINDOW


@service
def session_reauthenticate(*, actor, session_key: str, method: str = "password") -> None:
    """Record that `actor` proved who they are again in this session (the
    caller has checked the password and code)."""
    now = timezone.now()
    updated = UserSession.objects.filter(
        session_key=session_key, user=actor.user, ended_at__isnull=True
    ).update(reauthenticated_at=now, last_seen_at=now)
    if not updated:
        ctx = context.current()
        UserSession.objects.update_or_create(
            session_key=session_key,
            defaults={
                "user": actor,
                "ip": ctx.ip,
                "user_agent": ctx.user_agent,
                "last_seen_at": now,
                "ended_at": None,
                "reauthenticated_at": now,
            },
        )
    audit.record(
        events.SESSION_REAUTHENTICATED, actor=actor, target=actor, changes={"method": method}
    )
