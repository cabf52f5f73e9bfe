"""A user's own data (seed 002, "data privacy"): downloading what is held
about them, and deleting their own account.

Deleting is asked for with a fresh proof and waits for a cooling-off period
(SELF_DELETION_COOLING_OFF, 7 days) during which the user can cancel and
administrators see it on the user's page and in the list
(`User.deletion_due_at`). Then a beat task, as the system actor, carries it
out: the same soft delete as any deletion (sessions, links and keys end;
`accounts.user.deleted`), restorable for RESTORE_WINDOW, then purged with
the rest (`accounts.services.purge`). The owner cannot ask while owner.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_data_export
from accounts.services.common import lock_organizations_at_stake, lock_user
from accounts.services.users import _save_status
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


@service
def account_data_export(*, actor) -> dict:
    """ "Download my data": the export an administrator gets through a
    GDPR access request (`user_data_export`), every section, about the
    signed-in person only; recorded."""
    policies.check_can_export_own_data(actor)
    user = lock_user(actor.user)
    data = user_data_export(user, sessions=True, audit_events=True)
    audit.record(events.ACCOUNT_DATA_EXPORTED, actor=actor, target=user)
    return data


@service
def account_deletion_request(*, actor) -> User:
    """Ask for your own account to be deleted after the cooling-off period.
    Guard: `check_can_request_own_deletion` (fresh proof, not the owner)."""
    action = events.ACCOUNT_DELETION_REQUESTED
    policies.check_can_request_own_deletion(actor)
    user = lock_user(actor.user)
    at_stake = lock_organizations_at_stake(exclude_user_ids=[user.pk])
    policies.check_last_manager(
        actor, action=action, target=user, exclude_user_ids=[user.pk], at_stake=at_stake
    )
    if user.deletion_due_at is not None:
        return user
    due = timezone.now() + settings.SELF_DELETION_COOLING_OFF
    user.deletion_due_at = due
    user.save(update_fields=["deletion_due_at", "updated_at"])
    audit.record(
        action, actor=actor, target=user, changes={"deletion_due_at": [None, due.isoformat()]}
    )
    return user


@service
def account_deletion_cancel(*, actor) -> User:
    """Cancel your own deletion request before it is carried out."""
    action = events.ACCOUNT_DELETION_CANCELLED
    policies.check_can_cancel_own_deletion(actor)
    user = lock_user(actor.user)
    if user.deletion_due_at is None:
        raise ValidationError("There is no deletion request to cancel.", code="no_request")
    before = user.deletion_due_at.isoformat()
    user.deletion_due_at = None
    user.save(update_fields=["deletion_due_at", "updated_at"])
    audit.record(action, actor=actor, target=user, changes={"deletion_due_at": [before, None]})
    return user


@service
def deletion_carry_out(*, actor, user_id) -> bool:
    """Soft-delete one user whose own request's cooling-off ended, as any
    deletion does. The row is locked with SKIP LOCKED and the request asked
    again under the lock: two runs at once delete once, a request
    cancelled meanwhile is left alone. Guard: `check_can_purge` (the
    system or the operator's shell)."""
    user = User.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk=user_id).first()
    policies.check_can_purge(actor, user)
    if user is None or user.deletion_due_at is None or user.deleted_at is not None:
        return False
    if user.deletion_due_at > timezone.now():
        return False
    _save_status(
        user,
        actor=actor,
        action=events.USER_DELETED,
        values={"deleted_at": timezone.now(), "deletion_due_at": None},
        reason="Deleted at the user's own request, after the cooling-off period.",
        changes={"deleted_at": [None, timezone.now().isoformat()], "self_requested": True},
        ends_access="deleted",
    )
    return True


def deletions_carry_out_due(*, actor) -> int:
    """Carry out every self-deletion whose cooling-off ended, one
    transaction each; returns how many this run deleted."""
    due = User.objects.filter(
        deletion_due_at__lte=timezone.now(), deleted_at__isnull=True, is_owner=False
    ).values_list("pk", flat=True)
    return sum(bool(deletion_carry_out(actor=actor, user_id=pk)) for pk in list(due))
