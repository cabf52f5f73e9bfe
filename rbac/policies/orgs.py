"""Named guards for organizations: creating, renaming and deleting them,
adding and removing members, and the roles members hold there.

An organization action needs its permission in that organization (or
globally): `actor.within(org)`. The hierarchy is asked inside the
organization -- the actor's permissions there against what the member holds
there (globally or in it) -- and each organization keeps someone who can
manage its members (`members:manage`)."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User, status_q
from audit import events
from rbac.actor import as_actor
from rbac.models import Membership, Role, UserRole
from rbac.permissions import ALL_PERMISSIONS, SCOPABLE, left_out_in_organization
from rbac.policies.base import (
    _deny,
    check_escalation,
    check_not_owner,
    check_permission,
    is_self,
)
from rbac.selectors import user_grants

MEMBER_MANAGER_PERMISSION = "members:manage"


def permissions_in(user, organization) -> frozenset[str]:
    """What `user` holds inside `organization`: global grants and the
    roles held there."""
    global_perms, by_org = user_grants(user)
    return global_perms | by_org.get(organization.pk, frozenset())


def _within(actor, organization):
    return as_actor(actor).within(organization)


def check_can_create_organization(actor) -> None:
    """organizations:create is global-only: a scoped administrator never
    creates organizations."""
    check_permission(
        as_actor(actor).globally(), "organizations:create", action=events.ORGANIZATION_CREATED
    )


def check_can_update_organization(actor, organization) -> None:
    check_permission(
        _within(actor, organization),
        "organizations:update",
        action=events.ORGANIZATION_UPDATED,
        target=organization,
    )


def check_can_delete_organization(actor, organization) -> None:
    check_permission(
        as_actor(actor).globally(),
        "organizations:delete",
        action=events.ORGANIZATION_DELETED,
        target=organization,
    )


def check_can_read_members(actor, organization) -> None:
    check_permission(
        _within(actor, organization),
        "members:read",
        action=events.ORGANIZATION_MEMBERS_LISTED,
        target=organization,
    )


def check_hierarchy_in(actor, organization, user, *, action: str) -> None:
    """Inside `organization`, the actor manages only members whose
    permissions there are a strict subset of the actor's there; nobody
    but the owner acts on the owner."""
    actor = _within(actor, organization)
    if actor.is_owner:
        return
    check_not_owner(actor, user, action=action, verb="managed by an organization's administrator")
    held, theirs = actor.permissions, permissions_in(user, organization)
    extra = theirs - held
    if extra:
        raise _deny(
            "hierarchy",
            f"You can only manage members of {organization.name} whose permissions there you "
            "also hold; this user also has: %s." % ", ".join(sorted(extra)),
            action=action,
            actor=actor,
            target=organization,
            missing=extra,
        )
    if theirs == held:
        raise _deny(
            "peer",
            f"This member holds the same permissions in {organization.name} as you; only "
            "someone with more access can manage them.",
            action=action,
            actor=actor,
            target=organization,
        )


def _check_member_change(actor, organization, user, *, action: str) -> None:
    check_permission(
        _within(actor, organization), MEMBER_MANAGER_PERMISSION, action=action, target=organization
    )
    if is_self(actor, user):
        raise _deny(
            "self_action",
            "You cannot change your own membership or roles in an organization.",
            action=action,
            actor=actor,
            target=organization,
        )
    check_hierarchy_in(actor, organization, user, action=action)


def check_can_add_member(actor, organization, user, *, member_of=()) -> None:
    """members:manage in the organization and the hierarchy there. A user
    who belongs to no organization is managed globally only, so bringing
    them into one (which hands its administrators their account) needs
    members:manage globally."""
    action = events.MEMBERSHIP_ADDED
    _check_member_change(actor, organization, user, action=action)
    if not member_of and MEMBER_MANAGER_PERMISSION not in as_actor(actor).global_permissions:
        raise _deny(
            "organization_scope",
            "This user belongs to no organization and is managed globally only; adding "
            "them to one needs members:manage globally (invite them instead).",
            action=action,
            actor=actor,
            target=organization,
            missing=[MEMBER_MANAGER_PERMISSION],
        )


def check_can_remove_member(actor, organization, user) -> None:
    action = events.MEMBERSHIP_REMOVED
    _check_member_change(actor, organization, user, action=action)
    check_org_keeps_manager(actor, organization, action=action, without_user=user)


def check_can_assign_org_role(actor, organization, user, role) -> None:
    """members:manage there, never the owner role, no permission the actor
    lacks there (the role's scopable part: all it confers there), and the
    hierarchy inside the organization."""
    action = events.USER_ROLE_ASSIGNED
    _check_member_change(actor, organization, user, action=action)
    if role.slug == "owner":
        raise _deny(
            "owner_role",
            "The owner role cannot be assigned.",
            action=action,
            actor=actor,
            target=organization,
        )
    conferred = set(role.permissions) & SCOPABLE
    check_escalation(_within(actor, organization), conferred, action=action, target=organization)


def check_can_remove_org_role(actor, organization, user, role) -> None:
    action = events.USER_ROLE_REMOVED
    _check_member_change(actor, organization, user, action=action)
    if MEMBER_MANAGER_PERMISSION in role.permissions:
        check_org_keeps_manager(
            actor, organization, action=action, without_user=user, without_role=role
        )


def roles_grantable_in(actor, organizations, roles) -> list:
    """The roles `actor` may give inside every one of `organizations` as
    far as the roles themselves go (members:manage there, never the owner
    role, nothing conferred there that the actor lacks there) -- what an
    assignment dialog offers; the member's own standing is each
    assignment's guard."""
    actor = as_actor(actor)
    organizations = list(organizations)
    if not organizations:
        return []
    held = frozenset.intersection(*(actor.permissions_in(org) for org in organizations))
    if MEMBER_MANAGER_PERMISSION not in held:
        return []
    return [
        role
        for role in roles
        if role.slug != "owner" and (set(role.permissions) & SCOPABLE) <= held
    ]


def members_manageable(actor, organization, members) -> set:
    """The pks of `members` the actor may change inside `organization`
    (`check_hierarchy_in` and not themselves, with members:manage there),
    for many members in two queries: what a member list offers."""
    actor = as_actor(actor).within(organization)
    if MEMBER_MANAGER_PERMISSION not in actor.permissions:
        return set()
    members = [m for m in members if m.pk != actor.pk]
    if actor.is_owner:
        return {m.pk for m in members}
    theirs = {
        m.pk: set(ALL_PERMISSIONS if m.is_owner else (m.direct_permissions or [])) for m in members
    }
    rows = UserRole.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True), user__in=list(theirs)
    ).values_list("user_id", "organization_id", "role__permissions")
    for user_id, org_id, perms in rows:
        theirs[user_id] |= set(perms or ()) & (SCOPABLE if org_id is not None else ALL_PERMISSIONS)
    held = actor.permissions
    return {m.pk for m in members if not m.is_owner and (theirs[m.pk] & ALL_PERMISSIONS) < held}


def sole_manager(organization):
    """The pk of the one member left who can manage `organization`'s
    members while others remain (whom `check_org_keeps_manager` keeps), or
    None: what a member list does not offer to remove."""
    members = Membership.objects.filter(organization=organization)
    holders = UserRole.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True),
        role__permissions__icontains=f'"{MEMBER_MANAGER_PERMISSION}"',
    )
    able = status_q("active") | status_q("unverified")
    ids = list(
        User.objects.filter(able, pk__in=members.values("user_id"))
        .filter(
            Q(pk__in=holders.values("user_id"))
            | Q(direct_permissions__icontains=f'"{MEMBER_MANAGER_PERMISSION}"')
            | Q(is_owner=True)
        )
        .values_list("pk", flat=True)[:2]
    )
    if len(ids) != 1 or not members.exclude(user_id=ids[0]).exists():
        return None
    return ids[0]


def locked_roles(organization, user_id, held, sole) -> set:
    """The roles `held` there ([(slug, permissions)]) a member list does not
    offer to take away: the last manager's managing ones."""
    if user_id != sole:
        return set()
    return {slug for slug, perms in held if MEMBER_MANAGER_PERMISSION in (perms or ())}


def role_offers(actor, organizations) -> list[dict]:
    """What an assignment dialog offers in `organizations`: the roles the
    actor may give there (`roles_grantable_in`), each with the permissions
    it leaves out there (its global-only ones)."""
    roles = Role.objects.exclude(slug="owner").order_by("name")
    return [
        {"role": role, "left_out": left_out_in_organization(role.permissions)}
        for role in roles_grantable_in(actor, organizations, roles)
    ]


def org_managers_remaining(organization, *, without_user=None, without_role=None) -> int:
    """Members of `organization` who could still manage its members,
    leaving out `without_user` entirely, or only their `without_role` there."""
    members = Membership.objects.filter(organization=organization).values("user_id")
    holders = UserRole.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True),
        role__permissions__icontains=f'"{MEMBER_MANAGER_PERMISSION}"',
    )
    if without_user is not None and without_role is not None:
        holders = holders.exclude(user=without_user, role=without_role, organization=organization)
    able = status_q("active") | status_q("unverified")
    users = User.objects.filter(able, pk__in=members).filter(
        Q(pk__in=holders.values("user_id"))
        | Q(direct_permissions__icontains=f'"{MEMBER_MANAGER_PERMISSION}"')
        | Q(is_owner=True)
    )
    if without_user is not None and without_role is None:
        users = users.exclude(pk=without_user.pk)
    return users.count()


def check_org_keeps_manager(actor, organization, *, action, without_user, without_role=None):
    """A change may not leave the organization with members but nobody
    among them able to manage them."""
    others = Membership.objects.filter(organization=organization)
    if without_role is None:
        others = others.exclude(user=without_user)
    if not others.exists():
        return
    if org_managers_remaining(organization, without_user=without_user, without_role=without_role):
        return
    raise _deny(
        "last_manager",
        f"This change would leave nobody in {organization.name} able to manage its members.",
        action=action,
        actor=actor,
        target=organization,
    )
