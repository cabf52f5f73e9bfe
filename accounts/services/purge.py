"""Removing for good the users whose restore window ended (and carrying
out self-deletions whose cooling-off ended: `self_deletion`).

Run by beat (`accounts.tasks.users_purge_expired`) as the system actor
(`rbac.actor.Actor.system`). Each user is purged in its own transaction:
the row is locked with SKIP LOCKED and the window asked again under the
lock, so two beats running at once (a misconfigured second scheduler)
share the work and never purge anyone twice; a user restored meanwhile is
left alone. Their audit trail stays, scrubbed as `audit_scrub_user` does
(labels become "deleted user <id>", personal values "[scrubbed]"), and the
purge itself is one `accounts.user.purged` event free of personal data.
"""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User
from accounts.services.users import RESTORE_WINDOW
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


def purge_due_ids(*, now=None) -> list:
    """The users deleted longer ago than RESTORE_WINDOW (the owner never)."""
    cutoff = (now or timezone.now()) - RESTORE_WINDOW
    rows = User.objects.filter(deleted_at__lte=cutoff, is_owner=False).order_by("deleted_at")
    return list(rows.values_list("pk", flat=True))


@service
def user_purge(*, actor, user_id) -> bool:
    """Remove one deleted user for good once their restore window ended.
    Returns False when there is nothing to do: gone already, being purged
    by another run right now (locked), restored, or still restorable.
    Guard: `check_can_purge` (the system or the operator's shell)."""
    user = User.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk=user_id).first()
    policies.check_can_purge(actor, user)
    if user is None or user.deleted_at is None:
        return False
    if user.deleted_at + RESTORE_WINDOW > timezone.now():
        return False
    user_key = str(user.pk)
    scrubbed = audit.scrub_user_events(actor=actor, user_key=user_key, user=user)
    audit.record(
        events.USER_PURGED,
        actor=actor,
        target=audit.Target("user", user_key, f"deleted user {user_key[:8]}"),
        reason="The restore window ended.",
        changes={
            "deleted_at": user.deleted_at.isoformat(),
            "restore_window_days": RESTORE_WINDOW.days,
            "events_scrubbed": scrubbed.changes["scrubbed"] if scrubbed else 0,
        },
    )
    user.delete()
    return True


def users_purge_expired(*, actor, now=None) -> int:
    """Purge every user whose restore window ended, one transaction each;
    returns how many this run removed."""
    return sum(bool(user_purge(actor=actor, user_id=pk)) for pk in purge_due_ids(now=now))
