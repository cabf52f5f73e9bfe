"""A user's roles and direct grants (guards: `check_can_assign_role`,
`check_can_remove_role`, `check_can_change_grants`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.services.common import lock_organizations_at_stake, lock_user
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.policies import PolicyDenied
from rbac.selectors import user_effective_permissions
from rbac.services.common import (
    _clean_permissions,
    _lock_role,
    _loses_manager,
    _managers,
    _notify_elevated,
    _revoke_keys_of_demoted,
)

# --- a user's roles and grants ---------------------------------------------


@service
def user_role_assign(*, actor, user, role: Role, batch_id=None) -> bool:
    """Give `user` the role. Returns False when they already hold it.
    Guards: roles:assign, not yourself, not the owner, hierarchy, the owner
    role is only transferred, escalation over the role's permissions."""
    action = events.USER_ROLE_ASSIGNED
    user = lock_user(user)
    policies.check_can_assign_role(actor, user, role, batch_id=batch_id)
    role = _lock_role(role)
    if UserRole.objects.filter(user=user, role=role, organization__isnull=True).exists():
        return False
    held_before = user_effective_permissions(user)
    UserRole.objects.create(user=user, role=role, assigned_by=actor.user)
    audit.record(
        action, actor=actor, target=user, changes={"roles": [None, role.slug]}, batch_id=batch_id
    )
    _notify_elevated(actor, user, set(role.permissions) - held_before)
    return True


@service
def user_role_remove(*, actor, user, role: Role, batch_id=None) -> bool:
    """Take the role away from `user`. Returns False when they did not hold
    it. Guards: as for assigning, plus last-manager."""
    action = events.USER_ROLE_REMOVED
    user = lock_user(user)
    if policies.MANAGING_PERMISSIONS & set(role.permissions or ()):
        lock_organizations_at_stake(global_losers=[user.pk])
    policies.check_can_remove_role(actor, user, role, batch_id=batch_id)
    try:
        membership = UserRole.objects.filter(
            user=user, role=role, organization__isnull=True
        ).first()
        if membership is None:
            return False
        remaining = set(user.direct_permissions or [])
        for perms in (
            UserRole.objects.filter(user=user, organization__isnull=True)
            .exclude(role=role)
            .values_list("role__permissions", flat=True)
        ):
            remaining.update(perms)
        if _loses_manager(user, remaining_perms=remaining):
            policies.check_last_manager(
                actor, action=action, target=user, exclude_user_ids=[user.pk]
            )
    except PolicyDenied as exc:
        exc.batch_id = batch_id
        raise
    managers = _managers([user])
    membership.delete()
    audit.record(
        action, actor=actor, target=user, changes={"roles": [role.slug, None]}, batch_id=batch_id
    )
    _revoke_keys_of_demoted(managers)
    return True


@service
def user_permissions_update(*, actor, user, grant=(), revoke=()):
    """Grant and revoke direct permissions (besides the user's roles).
    Guards: permissions:grant, not yourself, not the owner, hierarchy,
    escalation over everything granted or revoked, last-manager."""
    action = events.USER_PERMISSIONS_UPDATED
    given, user = user, lock_user(user)
    grant = _clean_permissions(grant)
    revoke = _clean_permissions(revoke)
    both = sorted(set(grant) & set(revoke))
    if both:
        raise ValidationError(
            "A permission cannot be granted and revoked at once: %s." % ", ".join(both),
            code="conflict",
        )
    if policies.MANAGING_PERMISSIONS & set(revoke):
        lock_organizations_at_stake(global_losers=[user.pk])
    policies.check_can_change_grants(actor, user, grant=grant, revoke=revoke)
    old = sorted(set(user.direct_permissions or []))
    new = sorted((set(old) - set(revoke)) | set(grant))
    if new == old:
        return user
    role_perms = set()
    for perms in UserRole.objects.filter(user=user, organization__isnull=True).values_list(
        "role__permissions", flat=True
    ):
        role_perms.update(perms)
    if _loses_manager(user, remaining_perms=role_perms | set(new)):
        policies.check_last_manager(actor, action=action, target=user, exclude_user_ids=[user.pk])
    managers = _managers([user])
    user.direct_permissions = new
    user.save(update_fields=["direct_permissions", "updated_at"])
    audit.record(action, actor=actor, target=user, changes={"permissions": [old, new]})
    _notify_elevated(actor, user, set(new) - set(old) - role_perms)
    _revoke_keys_of_demoted(managers)
    given.direct_permissions = new
    return user
