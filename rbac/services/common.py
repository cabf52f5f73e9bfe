"""What the role and grant services share: cleaning input, locking a role,
notices to users who gain management permissions, and revoking the keys
of users who lose their last one."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from accounts.models import User
from accounts.services.api_keys import api_keys_revoke_all
from accounts.services.common import (
    lock_organizations,
    lock_organizations_at_stake,
    lock_user,
)
from accounts.services.notices import notify_security
from rbac import policies
from rbac.models import Role, UserRole
from rbac.permissions import (
    FORMER_OWNER_ROLE,
    MANAGEMENT_PERMISSIONS,
    ROLE_MANAGER_PERMISSION,
    validate_permissions,
)
from rbac.selectors import prime_permissions, user_effective_permissions

SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
# Path segments under /roles/ that a role slug must not shadow.
RESERVED_SLUGS = frozenset({"new", "ownership", "users"})
ADMIN_ROLE = FORMER_OWNER_ROLE  # the role a former owner keeps


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


def _notify_elevated(actor, user, gained) -> None:
    """Tell `user` by email (security notice, in the caller's transaction)
    that they now hold management permissions they did not hold before.
    `gained` is what the change added; only management permissions count."""

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


def _lock_role_and_members(role, *, permissions_after) -> tuple[Role, list]:
    """Lock a role's members, then the organizations the change could leave
    without anyone to manage their members (the role holding
    `permissions_after`), then the role, and read them again: a change of
    the role acts on every member, so its guard must judge each member as
    the row is under that member's lock (a member made owner a moment ago
    is the owner), and count each organization's managers under its lock.
    The one lock order -- users by id, organizations by id, roles -- is the
    order a batch and the organization services take too, so none of them
    can deadlock with another. Holding the role lock keeps the member set
    still: assigning the role locks the role first."""
    pk = getattr(role, "pk", role)
    ids = list(UserRole.objects.filter(role_id=pk).values_list("user_id", flat=True))
    locked = {u.pk: u for u in User.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    at_stake = lock_organizations_at_stake(role_overrides={pk: list(permissions_after)})
    role = _lock_role(role)
    members = []
    for user_id in UserRole.objects.filter(role=role).values_list("user_id", flat=True).distinct():
        # A member who joined between the first read and the role lock
        # committed already; locking them now waits on nobody holding the role.
        members.append(locked.get(user_id) or lock_user(user_id))
    if any(member.pk not in locked for member in members):
        # Their organizations too (out of the usual order, but only for a
        # member who joined in between: PostgreSQL ends a cycle, if any).
        late = policies.organizations_at_stake(role_overrides={pk: list(permissions_after)})
        lock_organizations(sorted(set(late) - set(at_stake)))
    return role, members


def _managers(users) -> list:
    """Those of `users` who hold a management permission now (before a
    change), for `_revoke_keys_of_demoted` after it."""
    held = prime_permissions([u for u in users if u is not None])
    return [u for u in users if u is not None and held[u.pk] & MANAGEMENT_PERMISSIONS]


def _revoke_keys_of_demoted(managers) -> None:
    """A user whose last management permission was just removed loses their
    API keys for good (listed as revoked, with the reason): a key must not
    outlive the access it was made for. `managers` come from `_managers`
    before the change; call this after it, in the same transaction."""

    for user in managers:
        if user.is_owner:
            continue
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
