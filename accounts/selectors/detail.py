"""One user's page and records: the user, their sessions, invitations,
audit trail and status history, and everything held about them (a GDPR
access request)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from accounts.models import Invitation, User, UserSession
from accounts.selectors.lockout import FAILED_SIGNIN_ACTIONS, user_failed_signins
from audit import events
from audit.models import AuditEvent
from core.services import NotFound
from rbac.actor import as_actor

# --- detail and export -------------------------------------------------------


USER_GONE = "This user no longer exists, or never did: someone may have deleted them."


def user_get(pk, *, actor, include_deleted: bool = True) -> User:
    """The user with this id that `actor` may see (`actor.visible_users()`),
    or `NotFound` with `USER_GONE`: every page, the API and the batch look a
    user up this one way (a page answers 404, the API `not_found`). A user
    outside the actor's reach does not exist for them, in the same words."""
    try:
        user = as_actor(actor).visible_users().filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        user = None
    if user is None or (user.deleted_at and not include_deleted):
        raise NotFound(USER_GONE)
    return user


def user_sessions(user, *, open_only: bool = True):
    qs = UserSession.objects.filter(user=user)
    if open_only:
        qs = qs.filter(ended_at__isnull=True)
    return qs.order_by("-last_seen_at")


def user_invitations(user):
    return Invitation.objects.filter(Q(user=user) | Q(email=user.email)).order_by("-created_at")


STATUS_CHANGE_AUDIT_CODES = (
    events.USER_CREATED,
    events.USER_BANNED,
    events.USER_UNBANNED,
    events.USER_UNLOCKED,
    events.USER_DISABLED,
    events.USER_ENABLED,
    events.USER_DELETED,
    events.USER_RESTORED,
    events.USER_PASSWORD_CHANGE_FORCED,
    events.OWNER_BOOTSTRAPPED,
)


def user_audit_events(user, *, limit: int = 20, actions=None):

    qs = AuditEvent.objects.filter(target_id=str(user.pk))
    if actions:
        qs = qs.filter(action__in=actions, outcome="success")
    return qs.order_by("-id")[:limit]


def user_status_history(user, *, limit: int = 10):
    return user_audit_events(user, limit=limit, actions=STATUS_CHANGE_AUDIT_CODES)


def user_status_events(user, *, history: int = 10, failures: int = 5) -> tuple[list, list]:
    """The user page's status section: (the latest status changes, the
    latest failed sign-ins), each newest first. One query where the
    database can limit each part of a UNION ALL (PostgreSQL), two
    otherwise."""
    changes = user_status_history(user, limit=history)
    failed = user_failed_signins(user, limit=failures)
    if not connections[changes.db].features.supports_slicing_ordering_in_compound:
        return list(changes), list(failed)
    rows = sorted(changes.union(failed, all=True), key=lambda e: e.pk, reverse=True)
    # The two sets of event types are disjoint.
    return (
        [e for e in rows if e.action not in FAILED_SIGNIN_ACTIONS],
        [e for e in rows if e.action in FAILED_SIGNIN_ACTIONS],
    )


def user_data_export(user, *, sessions: bool = True, audit_events: bool = True) -> dict:
    """What Handover records about one person (GDPR access request).

    Events about the person are given in full. Events the person caused
    that are about someone or something else keep only what concerns the
    person (when, what kind, the outcome, their own address): whom it was
    about, the changes and the reason are redacted, since they are other
    people's data. A section the caller may not have (`sessions`,
    `audit_events` False) is None and named in `omitted`."""

    def iso(value):
        return value.isoformat() if value else None

    subject = str(user.pk)
    data = {
        "exported_at": timezone.now().isoformat(),
        "profile": {
            "id": subject,
            "email": user.email,
            "name": user.name,
            "phone": user.phone,
            "metadata": user.metadata,
            "status": user.status,
            "is_owner": user.is_owner,
            "must_change_password": user.must_change_password,
            "created_at": iso(user.created_at),
            "last_login": iso(user.last_login),
            "email_verified_at": iso(user.email_verified_at),
            "password_changed_at": iso(user.password_changed_at),
            "disabled_at": iso(user.disabled_at),
            "banned_until": iso(user.banned_until),
            "ban_reason": user.ban_reason,
            "deleted_at": iso(user.deleted_at),
            "deletion_due_at": iso(user.deletion_due_at),
        },
        "known_devices": None,
        "roles": [
            {"slug": r.slug, "name": r.name, "permissions": r.permissions}
            for r in user.roles.order_by("name")
        ],
        "direct_permissions": user.direct_permissions,
        "sessions": None,
        "invitations": [
            {
                "email": i.email,
                "status": i.status,
                "created_at": iso(i.created_at),
                "expires_at": iso(i.expires_at),
                "accepted_at": iso(i.accepted_at),
                "revoked_at": iso(i.revoked_at),
            }
            for i in user_invitations(user)
        ],
        "audit_events": None,
        "omitted": {},
    }
    if sessions:
        data["sessions"] = [
            {
                "ip": s.ip,
                "user_agent": s.user_agent,
                "created_at": iso(s.created_at),
                "last_seen_at": iso(s.last_seen_at),
                "ended_at": iso(s.ended_at),
            }
            for s in user_sessions(user, open_only=False)
        ]
        # The browsers signed in from before (the new-device notice's memory).
        data["known_devices"] = [
            {
                "user_agent": d.user_agent,
                "ip": d.ip,
                "first_seen_at": iso(d.first_seen_at),
                "last_seen_at": iso(d.last_seen_at),
            }
            for d in user.known_devices.order_by("first_seen_at")
        ]
    else:
        data["omitted"]["sessions"] = "Needs the permission sessions:read."
    if audit_events:
        data["audit_events"] = [
            _exported_event(e, subject, iso)
            for e in AuditEvent.objects.filter(Q(target_id=subject) | Q(actor_id=user.pk)).order_by(
                "id"
            )
        ]
    else:
        data["omitted"]["audit_events"] = "Needs the permission audit:read."
    return data


REDACTED = "[about someone else: redacted]"


def _exported_event(event, subject: str, iso) -> dict:
    if event.target_id == subject:
        return {
            "created_at": iso(event.created_at),
            "action": event.action,
            "actor": event.actor_label,
            "outcome": event.outcome,
            "reason": event.reason,
            "ip": event.ip,
            "changes": event.changes,
        }
    # The person acted on someone (or something) else: theirs is only that
    # they did it, when, and from where.
    return {
        "created_at": iso(event.created_at),
        "action": event.action,
        "actor": event.actor_label,
        "outcome": event.outcome,
        "reason": REDACTED if event.reason else "",
        "ip": event.ip,
        "changes": REDACTED if event.changes else None,
        "about": REDACTED,
    }
