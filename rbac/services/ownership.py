"""Transferring ownership (guard: `check_can_transfer_ownership`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from accounts.services.common import lock_organizations_at_stake
from accounts.services.email_content import site_link
from accounts.services.emails import email_queue
from audit import events
from audit import services as audit
from audit.services import EventSpec
from core.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.permissions import OWNER_ROLE
from rbac.policies import PolicyDenied
from rbac.services.common import ADMIN_ROLE

# --- ownership -------------------------------------------------------------


@service
def ownership_transfer(*, actor, target, password: str | None = None):
    """Make `target` the owner. Guard: `check_can_transfer_ownership` (only
    the owner, with their password -- through an API key, a full-access key
    and the password in the request; no organization left without someone
    to manage its members). The target must be an existing active user.
    The old owner keeps the admin role. Both are emailed after commit."""

    action = events.OWNERSHIP_TRANSFERRED
    if target is None:
        raise ValidationError({"target": "Choose an existing user."}, code="missing_user")
    # Lock, then guard: both rows in a fixed order (two transfers cannot
    # deadlock), then the organizations the owner manages by being the
    # owner (the guard keeps each one managed); the guard is asked before
    # anything says whether the target exists, so a refusal never tells an
    # outsider which users do.
    locked = {
        u.pk: u
        for u in User.objects.select_for_update()
        .filter(pk__in={getattr(actor, "pk", None), target.pk} - {None})
        .order_by("pk")
    }
    lock_organizations_at_stake(global_losers=[actor.pk])
    new_owner = locked.get(target.pk)
    policies.check_can_transfer_ownership(actor, new_owner or target, password=password)
    if new_owner is None:
        raise ValidationError({"target": "Choose an existing user."}, code="missing_user")
    if target.pk == actor.pk:
        raise ValidationError({"target": "You already own this workspace."}, code="self")
    old_owner = locked[actor.pk]
    if not old_owner.is_owner:
        raise PolicyDenied(
            "owner_only",
            "Only the owner can transfer ownership.",
            action=action,
            actor=actor,
            target=target,
        )
    if not new_owner.is_active:
        raise ValidationError(
            {
                "target": "Ownership can only go to an active user (this one is %s)."
                % new_owner.get_status_display().lower()
            },
            code="inactive_user",
        )
    owner_role = Role.objects.get(slug=OWNER_ROLE)
    admin_role = Role.objects.get(slug=ADMIN_ROLE)
    # The single-owner constraint: clear the old owner before setting the new.
    old_owner.is_owner = False
    old_owner.save(update_fields=["is_owner", "updated_at"])
    new_owner.is_owner = True
    new_owner.save(update_fields=["is_owner", "updated_at"])
    UserRole.objects.filter(user=old_owner, role=owner_role).delete()
    UserRole.objects.get_or_create(
        user=old_owner, role=admin_role, defaults={"assigned_by": old_owner}
    )
    UserRole.objects.get_or_create(
        user=new_owner, role=owner_role, defaults={"assigned_by": old_owner}
    )
    now = timezone.now()
    audit.record_many(
        [
            EventSpec(
                action=action,
                actor=old_owner,
                target=new_owner,
                changes={"is_owner": [False, True], "roles": [None, OWNER_ROLE]},
            ),
            EventSpec(
                action=events.OWNERSHIP_RELINQUISHED,
                actor=old_owner,
                target=old_owner,
                changes={"is_owner": [True, False], "roles": [OWNER_ROLE, ADMIN_ROLE]},
            ),
        ]
    )
    context = {
        "old_owner": old_owner.display_name,
        "new_owner": new_owner.display_name,
        "when": now,
        "link": site_link("/"),
    }
    email_queue(
        to=old_owner.email,
        template="ownership_transferred_from",
        context={**context, "name": old_owner.display_name},
        user=old_owner,
    )
    email_queue(
        to=new_owner.email,
        template="ownership_transferred_to",
        context={**context, "name": new_owner.display_name},
        user=new_owner,
    )
    for user in (actor.user, target):
        user.is_owner = user.pk == new_owner.pk
    return new_owner
