"""Everything that changes roles and grants.

Every function here is a `@service`: guards from `rbac.policies` first (a
refusal rolls back and is audited as `denied`), then row locks, then an
early return when nothing changes, then the change, its audit events and,
after commit, its emails.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services.common import lock_user
from audit import services as audit
from audit.services import EventSpec
from handover.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.permissions import (
    BUILTIN_ROLES,
    MANAGEMENT_PERMISSIONS,
    ROLE_MANAGER_PERMISSION,
    template_permissions,
    validate_permissions,
)
from rbac.policies import PolicyDenied
from rbac.selectors import forget_permissions, user_effective_permissions

SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
# Path segments under /roles/ that a role slug must not shadow.
RESERVED_SLUGS = frozenset({"new", "ownership", "users"})
OWNER_ROLE = "owner"
ADMIN_ROLE = "admin"


def builtin_roles_ensure() -> None:
    """Create any missing built-in role (idempotent). The data migration
    creates them; this restores them after a test runner's table flush."""
    existing = set(Role.objects.filter(slug__in=BUILTIN_ROLES).values_list("slug", flat=True))
    Role.objects.bulk_create(
        [
            Role(
                slug=slug,
                name=spec["name"],
                description=spec["description"],
                permissions=spec["permissions"],
                is_builtin=True,
            )
            for slug, spec in BUILTIN_ROLES.items()
            if slug not in existing
        ]
    )


# --- helpers ---------------------------------------------------------------


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": "Give the role a name."}, code="required")
    if len(name) > 100:
        raise ValidationError(
            {"name": "A role name can be at most 100 characters."}, code="max_length"
        )
    return name


def _clean_slug(slug) -> str:
    slug = str(slug or "").strip().lower()
    if not slug:
        raise ValidationError({"slug": "Give the role a slug."}, code="required")
    if len(slug) > 50 or not SLUG_RE.match(slug):
        raise ValidationError(
            {
                "slug": "Use 1-50 lowercase letters, digits, hyphens or underscores "
                "(for example support-team)."
            },
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f'The slug "{slug}" is reserved.'}, code="reserved_slug")
    return slug


def _clean_permissions(permissions) -> list[str]:
    try:
        return validate_permissions(permissions)
    except ValidationError as exc:
        raise ValidationError({"permissions": exc.messages}, code="unknown_permission") from exc


def _lock_role(role) -> Role:
    pk = getattr(role, "pk", role)
    try:
        return Role.objects.select_for_update().get(pk=pk)
    except Role.DoesNotExist:
        raise ValidationError(
            "This role does not exist (it may have been deleted).", code="missing_role"
        ) from None


def _role_member_ids(role) -> list:
    return list(UserRole.objects.filter(role=role).values_list("user_id", flat=True))


def _forget(users) -> None:
    for user in users:
        if user is not None:
            forget_permissions(user)


def _notify_elevated(actor, user, gained) -> None:
    """Tell `user` by email (security notice, in the caller's transaction)
    that they now hold management permissions they did not hold before.
    `gained` is what the change added; only management permissions count."""
    from accounts.services.emails import notify_security

    gained = sorted(set(gained) & MANAGEMENT_PERMISSIONS)
    if not gained or user.is_owner or user.deleted_at is not None:
        return
    notify_security(
        user,
        "roles_elevated",
        actor_name=actor.display_name if actor is not None else "",
        permissions=gained,
    )


def _notify_members_elevated(actor, role: Role, added) -> None:
    """After `role` gained `added`: notify each member who did not already
    hold one of the added management permissions some other way. Three
    queries, whatever the number of members."""
    from accounts.models import User

    added = set(added) & MANAGEMENT_PERMISSIONS
    if not added:
        return
    members = list(
        User.objects.filter(userrole__role=role, is_owner=False, deleted_at__isnull=True)
    )
    if not members:
        return
    held = {m.pk: set(m.direct_permissions or []) for m in members}
    for user_id, perms in (
        UserRole.objects.filter(user_id__in=list(held))
        .exclude(role=role)
        .values_list("user_id", "role__permissions")
    ):
        held[user_id].update(perms)
    for member in members:
        _notify_elevated(actor, member, added - held[member.pk])


def check_access_change(actor, user, permission: str, *, action: str, what: str) -> None:
    """The guard for changing someone's roles or grants: the permission, not
    yourself, not the owner, and only users within your own permissions.
    `what` is "roles" or "permissions" and words the refusals."""
    policies.check_permission(actor, permission, action=action, target=user)
    if actor.pk == user.pk:
        raise PolicyDenied(
            "self_action",
            f"You cannot change your own {what}.",
            action=action,
            actor=actor,
            target=user,
        )
    if user.is_owner:
        raise PolicyDenied(
            "owner_protected",
            f"The owner's {what} cannot be changed; ownership can only be transferred.",
            action=action,
            actor=actor,
            target=user,
        )
    policies.check_hierarchy(actor, user, action=action)


def _loses_manager(user, *, remaining_perms) -> bool:
    return (
        ROLE_MANAGER_PERMISSION in user_effective_permissions(user)
        and ROLE_MANAGER_PERMISSION not in remaining_perms
    )


def preview_role_change(role: Role | None, permissions) -> dict:
    """What saving `permissions` on `role` would do: added, removed and the
    number of members affected. `role` None means a new role."""
    new = set(permissions)
    old = set(role.permissions) if role is not None else set()
    members = UserRole.objects.filter(role=role).count() if role is not None else 0
    return {
        "added": sorted(new - old),
        "removed": sorted(old - new),
        "members": members,
        "unchanged": new == old,
    }


# --- roles -----------------------------------------------------------------


@service
def role_create(
    *,
    actor,
    slug: str,
    name: str,
    description: str = "",
    permissions=(),
    template: str | None = None,
) -> Role:
    """Create a custom role. Guards: roles:create and escalation (every
    permission of the role must be held by the actor)."""
    action = "rbac.role.created"
    policies.check_permission(actor, "roles:create", action=action)
    perms = set(_clean_permissions(permissions))
    if template:
        perms |= template_permissions(template)
    perms = sorted(perms)
    policies.check_escalation(actor, perms, action=action)
    slug = _clean_slug(slug)
    name = _clean_name(name)
    description = str(description or "").strip()
    if Role.objects.filter(slug=slug).exists():
        raise ValidationError(
            {"slug": f'A role with the slug "{slug}" already exists.'}, code="duplicate_slug"
        )
    role = Role.objects.create(slug=slug, name=name, description=description, permissions=perms)
    audit.record(
        action,
        actor=actor,
        target=role,
        changes={
            "slug": [None, slug],
            "name": [None, name],
            "description": [None, description],
            "permissions": [[], perms],
        },
    )
    return role


@service
def role_update(
    *,
    actor,
    role: Role,
    name: str | None = None,
    description: str | None = None,
    permissions=None,
    expected_updated_at=None,
) -> Role:
    """Change a role's name, description and/or permissions (None leaves a
    field as it is). The row is locked and re-read, so concurrent edits of
    different fields both survive. With `expected_updated_at` (what the
    editor saw), an edit made in between is refused instead of overwritten.

    Guards: roles:update; the owner role is fixed; escalation over every
    permission added or removed; last-manager over members who would lose
    roles:assign."""
    action = "rbac.role.updated"
    policies.check_permission(actor, "roles:update", action=action, target=role)
    if role.slug == OWNER_ROLE:
        raise PolicyDenied(
            "owner_role",
            "The owner role always holds every permission and cannot be changed.",
            action=action,
            actor=actor,
            target=role,
        )
    new_perms = _clean_permissions(permissions) if permissions is not None else None
    role = _lock_role(role)
    if expected_updated_at is not None and role.updated_at != expected_updated_at:
        raise ValidationError(
            "Someone else changed this role while you were editing it. "
            "Review the current permissions and save again.",
            code="stale",
        )
    changes = {}
    if name is not None:
        name = _clean_name(name)
        if name != role.name:
            changes["name"] = [role.name, name]
    if description is not None:
        description = str(description).strip()
        if description != role.description:
            changes["description"] = [role.description, description]
    if new_perms is not None and set(new_perms) != set(role.permissions):
        changed = set(new_perms) ^ set(role.permissions)
        policies.check_escalation(actor, changed, action=action, target=role)
        if ROLE_MANAGER_PERMISSION in role.permissions and ROLE_MANAGER_PERMISSION not in new_perms:
            policies.check_last_manager(
                actor, action=action, target=role, role_overrides={role.pk: new_perms}
            )
        changes["permissions"] = [sorted(role.permissions), new_perms]
    if not changes:
        return role
    for field, (_old, new) in changes.items():
        setattr(role, field, new)
    role.save(update_fields=[*changes, "updated_at"])
    audit.record(action, actor=actor, target=role, changes=changes)
    if "permissions" in changes:
        old_perms, new_perms = changes["permissions"]
        _notify_members_elevated(actor, role, set(new_perms) - set(old_perms))
        if actor is not None:
            forget_permissions(actor)
    return role


@service
def role_delete(*, actor, role: Role, confirm: bool = False) -> None:
    """Delete a custom role. Built-in roles are refused. A role still held
    by users (or offered by pending invitations) needs `confirm=True`; its
    members lose it in the same transaction, one audit event each.

    Guards: roles:delete; escalation over the role's permissions (you only
    take away what you could give); last-manager."""
    action = "rbac.role.deleted"
    policies.check_permission(actor, "roles:delete", action=action, target=role)
    if role.is_builtin:
        raise PolicyDenied(
            "builtin_role",
            f"{role.name} is a built-in role and cannot be deleted.",
            action=action,
            actor=actor,
            target=role,
        )
    role = _lock_role(role)
    policies.check_escalation(actor, role.permissions, action=action, target=role)
    memberships = list(UserRole.objects.filter(role=role).select_related("user"))
    invitations = role.invitations.count()
    if (memberships or invitations) and not confirm:
        raise ValidationError(
            "This role is assigned to %d user%s and offered by %d invitation%s. "
            "Confirm to remove it from them and delete it."
            % (
                len(memberships),
                "" if len(memberships) == 1 else "s",
                invitations,
                "" if invitations == 1 else "s",
            ),
            code="confirm_required",
        )
    if ROLE_MANAGER_PERMISSION in role.permissions:
        policies.check_last_manager(actor, action=action, target=role, role_overrides={role.pk: []})
    # Log before deleting, while the role and its memberships still exist.
    audit.record_many(
        [
            EventSpec(
                action="rbac.user_role.removed",
                actor=actor,
                target=m.user,
                reason=f"Role {role.slug} deleted.",
                changes={"roles": [role.slug, None]},
            )
            for m in memberships
        ]
        + [
            EventSpec(
                action=action,
                actor=actor,
                target=role,
                changes={
                    "slug": [role.slug, None],
                    "name": [role.name, None],
                    "permissions": [sorted(role.permissions), []],
                    "members": [len(memberships), 0],
                    "invitations": [invitations, 0],
                },
            )
        ]
    )
    role.delete()
    _forget(m.user for m in memberships)
    forget_permissions(actor)


# --- a user's roles and grants ---------------------------------------------


@service
def user_role_assign(*, actor, user, role: Role, batch_id=None) -> bool:
    """Give `user` the role. Returns False when they already hold it.
    Guards: roles:assign, not yourself, not the owner, hierarchy, the owner
    role is only transferred, escalation over the role's permissions."""
    action = "rbac.user_role.assigned"
    try:
        check_access_change(actor, user, "roles:assign", action=action, what="roles")
        if role.slug == OWNER_ROLE:
            raise PolicyDenied(
                "owner_role",
                "The owner role cannot be assigned; the owner can transfer ownership instead.",
                action=action,
                actor=actor,
                target=user,
            )
        policies.check_escalation(actor, role.permissions, action=action, target=user)
    except PolicyDenied as exc:
        exc.batch_id = batch_id
        raise
    given, user = user, lock_user(user)
    role = _lock_role(role)
    if UserRole.objects.filter(user=user, role=role).exists():
        return False
    held_before = user_effective_permissions(user)
    UserRole.objects.create(user=user, role=role, assigned_by=actor)
    audit.record(
        action, actor=actor, target=user, changes={"roles": [None, role.slug]}, batch_id=batch_id
    )
    _notify_elevated(actor, user, set(role.permissions) - held_before)
    _forget([given, user])
    return True


@service
def user_role_remove(*, actor, user, role: Role, batch_id=None) -> bool:
    """Take the role away from `user`. Returns False when they did not hold
    it. Guards: as for assigning, plus last-manager."""
    action = "rbac.user_role.removed"
    try:
        check_access_change(actor, user, "roles:assign", action=action, what="roles")
        given, user = user, lock_user(user)
        membership = UserRole.objects.filter(user=user, role=role).first()
        if membership is None:
            return False
        remaining = set(user.direct_permissions or [])
        for perms in (
            Role.objects.filter(userrole__user=user)
            .exclude(pk=role.pk)
            .values_list("permissions", flat=True)
        ):
            remaining.update(perms)
        if _loses_manager(user, remaining_perms=remaining):
            policies.check_last_manager(
                actor, action=action, target=user, exclude_user_ids=[user.pk]
            )
    except PolicyDenied as exc:
        exc.batch_id = batch_id
        raise
    membership.delete()
    audit.record(
        action, actor=actor, target=user, changes={"roles": [role.slug, None]}, batch_id=batch_id
    )
    _forget([given, user])
    return True


@service
def user_permissions_update(*, actor, user, grant=(), revoke=()):
    """Grant and revoke direct permissions (besides the user's roles).
    Guards: permissions:grant, not yourself, not the owner, hierarchy,
    escalation over everything granted or revoked, last-manager."""
    action = "rbac.user.permissions_updated"
    grant = _clean_permissions(grant)
    revoke = _clean_permissions(revoke)
    both = sorted(set(grant) & set(revoke))
    if both:
        raise ValidationError(
            "A permission cannot be granted and revoked at once: %s." % ", ".join(both),
            code="conflict",
        )
    check_access_change(actor, user, "permissions:grant", action=action, what="permissions")
    policies.check_escalation(actor, set(grant) | set(revoke), action=action, target=user)
    given, user = user, lock_user(user)
    old = sorted(set(user.direct_permissions or []))
    new = sorted((set(old) - set(revoke)) | set(grant))
    if new == old:
        return user
    role_perms = set()
    for perms in Role.objects.filter(userrole__user=user).values_list("permissions", flat=True):
        role_perms.update(perms)
    if _loses_manager(user, remaining_perms=role_perms | set(new)):
        policies.check_last_manager(actor, action=action, target=user, exclude_user_ids=[user.pk])
    user.direct_permissions = new
    user.save(update_fields=["direct_permissions", "updated_at"])
    audit.record(action, actor=actor, target=user, changes={"permissions": [old, new]})
    _notify_elevated(actor, user, set(new) - set(old) - role_perms)
    _forget([given, user])
    given.direct_permissions = new
    return user


# --- ownership -------------------------------------------------------------


@service
def ownership_transfer(*, actor, target, password: str | None = None, reauthenticated=False):
    """Make `target` the owner. Only the owner may, re-entering their
    password (or `reauthenticated=True` when the caller already holds a
    fresh credential: the owner's own API key on `transfer-super`); the
    target must be an existing active user. The old owner keeps the admin
    role. Both are emailed after commit."""
    from accounts.models import User
    from accounts.services.emails import email_queue, site_link

    action = "rbac.ownership.transferred"
    if actor is None or not actor.is_authenticated or not actor.is_owner or not actor.is_active:
        raise PolicyDenied(
            "owner_only",
            "Only the owner can transfer ownership.",
            action=action,
            actor=actor,
            target=target,
        )
    if target is None or not User.objects.filter(pk=target.pk).exists():
        raise ValidationError({"target": "Choose an existing user."}, code="missing_user")
    if target.pk == actor.pk:
        raise ValidationError({"target": "You already own this workspace."}, code="self")
    if not reauthenticated and not actor.check_password(password or ""):
        raise PolicyDenied(
            "reauthentication_failed",
            "Your password is incorrect.",
            action=action,
            actor=actor,
            target=target,
        )
    # Lock both rows in a fixed order so two transfers cannot deadlock.
    first, second = sorted([actor.pk, target.pk], key=str)
    locked = {first: lock_user(first), second: lock_user(second)}
    old_owner, new_owner = locked[actor.pk], locked[target.pk]
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
    builtin_roles_ensure()
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
                action="rbac.ownership.relinquished",
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
    _forget([actor, target, old_owner, new_owner])
    for user in (actor, target):
        user.is_owner = user.pk == new_owner.pk
    return new_owner
