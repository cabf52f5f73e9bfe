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
from core.services import service
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
from rbac.selectors import forget_permissions, prime_permissions, user_effective_permissions

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


def _members(role) -> list:
    from accounts.models import User

    return list(User.objects.filter(userrole__role=role))


def _managers(users) -> list:
    """Those of `users` who hold a management permission now (before a
    change), for `_revoke_keys_of_demoted` after it."""
    prime_permissions([u for u in users if u is not None])
    return [
        u for u in users if u is not None and user_effective_permissions(u) & MANAGEMENT_PERMISSIONS
    ]


def _revoke_keys_of_demoted(managers) -> None:
    """A user whose last management permission was just removed loses their
    API keys for good (listed as revoked, with the reason): a key must not
    outlive the access it was made for. `managers` come from `_managers`
    before the change; call this after it, in the same transaction."""
    from accounts.services.api_keys import api_keys_revoke_all

    for user in managers:
        if user.is_owner:
            continue
        forget_permissions(user)
        if not user_effective_permissions(user) & MANAGEMENT_PERMISSIONS:
            api_keys_revoke_all(user, reason="no management permission")


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
    policies.check_can_create_role(actor, perms)
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

    Guard: `check_can_edit_role` (roles:update; the owner role is fixed;
    escalation over every permission added or removed; every member must
    be a user the actor may manage; last-manager)."""
    action = "rbac.role.updated"
    policies.check_can_edit_role(actor, role)
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
    members = []
    if new_perms is not None and set(new_perms) != set(role.permissions):
        members = _members(role)
        policies.check_can_edit_role(actor, role, new_permissions=new_perms, members=members)
        members = _managers(members)
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
        _forget(members)
        _revoke_keys_of_demoted(members)
        if actor is not None:
            forget_permissions(actor)
    return role


@service
def role_delete(*, actor, role: Role, confirm: bool = False) -> None:
    """Delete a custom role. Built-in roles are refused. A role still held
    by users (or offered by pending invitations) needs `confirm=True`; its
    members lose it in the same transaction, one audit event each.

    Guard: `check_can_delete_role` (roles:delete; built-in roles stay;
    escalation over the role's permissions -- you only take away what you
    could give; every member must be a user the actor may manage;
    last-manager)."""
    action = "rbac.role.deleted"
    policies.check_can_delete_role(actor, role)
    role = _lock_role(role)
    memberships = list(UserRole.objects.filter(role=role).select_related("user"))
    policies.check_can_delete_role(actor, role, members=[m.user for m in memberships])
    managers = _managers([m.user for m in memberships])
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
    _revoke_keys_of_demoted(managers)
    forget_permissions(actor)


# --- a user's roles and grants ---------------------------------------------


@service
def user_role_assign(*, actor, user, role: Role, batch_id=None) -> bool:
    """Give `user` the role. Returns False when they already hold it.
    Guards: roles:assign, not yourself, not the owner, hierarchy, the owner
    role is only transferred, escalation over the role's permissions."""
    action = "rbac.user_role.assigned"
    policies.check_can_assign_role(actor, user, role, batch_id=batch_id)
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
    policies.check_can_remove_role(actor, user, role, batch_id=batch_id)
    try:
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
    managers = _managers([user])
    membership.delete()
    audit.record(
        action, actor=actor, target=user, changes={"roles": [role.slug, None]}, batch_id=batch_id
    )
    _forget([given, user])
    _revoke_keys_of_demoted(managers)
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
    policies.check_can_change_grants(actor, user, grant=grant, revoke=revoke)
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
    managers = _managers([user])
    user.direct_permissions = new
    user.save(update_fields=["direct_permissions", "updated_at"])
    audit.record(action, actor=actor, target=user, changes={"permissions": [old, new]})
    _notify_elevated(actor, user, set(new) - set(old) - role_perms)
    _forget([given, user])
    _revoke_keys_of_demoted(managers)
    given.direct_permissions = new
    return user


# --- ownership -------------------------------------------------------------


@service
def ownership_transfer(*, actor, target, password: str | None = None):
    """Make `target` the owner. Guard: `check_can_transfer_ownership` (only
    the owner, with their password -- through an API key, a full-access key
    and the password in the request). The target must be an existing
    active user. The old owner keeps the admin role. Both are emailed
    after commit."""
    from accounts.models import User
    from accounts.services.emails import email_queue, site_link

    action = "rbac.ownership.transferred"
    if target is None or not User.objects.filter(pk=target.pk).exists():
        raise ValidationError({"target": "Choose an existing user."}, code="missing_user")
    if actor is not None and target.pk == actor.pk and actor.is_owner:
        raise ValidationError({"target": "You already own this workspace."}, code="self")
    policies.check_can_transfer_ownership(actor, target, password=password)
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
