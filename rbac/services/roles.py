"""Custom roles: create, edit, delete (guards: `check_can_create_role`,
`check_can_edit_role`, `check_can_delete_role`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from audit import events
from audit import services as audit
from audit.services import EventSpec
from core.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.permissions import (
    template_permissions,
)
from rbac.services.common import (
    _clean_name,
    _clean_permissions,
    _clean_slug,
    _lock_role,
    _lock_role_and_members,
    _managers,
    _notify_members_elevated,
    _revoke_keys_of_demoted,
)

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
    action = events.ROLE_CREATED
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
        # The code on the field's error: a dict's own `code` is dropped.
        raise ValidationError(
            {
                "slug": ValidationError(
                    f'A role with the slug "{slug}" already exists.', code="duplicate_slug"
                )
            }
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
    action = events.ROLE_UPDATED
    policies.check_can_edit_role(actor, role)
    new_perms = _clean_permissions(permissions) if permissions is not None else None
    if new_perms is not None:
        role, members = _lock_role_and_members(role, permissions_after=new_perms)
    else:
        role, members = _lock_role(role), []
    managers = []
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
        policies.check_can_edit_role(actor, role, new_permissions=new_perms, members=members)
        managers = _managers(members)
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
        _revoke_keys_of_demoted(managers)
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
    action = events.ROLE_DELETED
    policies.check_can_delete_role(actor, role)
    role, members = _lock_role_and_members(role, permissions_after=())
    by_pk = {m.pk: m for m in members}
    memberships = list(UserRole.objects.filter(role=role))
    for m in memberships:
        m.user = by_pk[m.user_id]
    policies.check_can_delete_role(actor, role, members=members)
    managers = _managers(members)
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
                action=events.USER_ROLE_REMOVED,
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
    _revoke_keys_of_demoted(managers)
