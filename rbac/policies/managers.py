"""Last-manager rules: a change may not leave the installation with nobody
besides the owner able to assign roles (when the owner cannot act), nor an
organization with members but nobody among them able to manage its members
(issue 24) -- whatever the change: an organization's own (a membership, a
role held there: `orgs.check_can_remove_member` / `check_can_remove_org_role`)
or account-wide (ban, disable, delete, erase; a global role or a direct grant
taken away; a role edited or deleted), which is this module.

Services lock, guards read: the organizations a change could leave
unmanaged (`organizations_at_stake`) are locked by the service, in id
order, before this guard counts their managers
(`accounts.services.common.lock_organizations_at_stake`; an organization's
own changes lock it with `rbac.services.organizations.lock_organization`).
Two administrators removing an organization's last two managers at once
are serialized on its row, and the second is refused. Every service takes
its locks in one order -- users by id, then organizations by id, then
roles -- so two changes never wait on each other in a cycle.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User, status_q
from core.compiled import Reused
from rbac.models import Membership, Organization, Role, UserRole
from rbac.permissions import ROLE_MANAGER_PERMISSION
from rbac.policies.base import (
    PolicyDenied,
    fixed_answer,
    owner_is_active,
    role_managers_remaining,
    standing_fixed,
)
from rbac.policies.orgs import MEMBER_MANAGER_PERMISSION

MANAGER = MEMBER_MANAGER_PERMISSION
# Taking either away from someone can leave an organization without anyone
# to manage its members (`members:manage`) or the installation without
# anyone to assign roles (`roles:assign`): the services lock the user's
# organizations before the keep-a-manager guards count them.
MANAGING_PERMISSIONS = frozenset({MEMBER_MANAGER_PERMISSION, ROLE_MANAGER_PERMISSION})


def check_last_manager(
    actor, *, action: str, target=None, exclude_user_ids=(), role_overrides=None, at_stake=None
) -> None:
    """No change may leave an organization unmanaged (`exclude_user_ids`:
    accounts that stop acting; `role_overrides`: {role id: its permissions
    after the change}), nor nobody besides the owner able to assign roles
    when the owner cannot act. `at_stake`: see `check_orgs_keep_managers`."""
    check_orgs_keep_managers(
        actor,
        action=action,
        target=target,
        exclude_user_ids=exclude_user_ids,
        role_overrides=role_overrides,
        at_stake=at_stake,
    )
    if owner_is_active():
        return
    if role_managers_remaining(exclude_user_ids=exclude_user_ids, role_overrides=role_overrides):
        return
    raise PolicyDenied(
        "last_manager",
        "This change would leave nobody able to assign roles.",
        action=action,
        actor=actor,
        target=target,
    )


def check_orgs_keep_managers(
    actor,
    *,
    action: str,
    target=None,
    exclude_user_ids=(),
    role_overrides=None,
    global_losers=(),
    global_gainers=(),
    at_stake=None,
) -> None:
    """Refuse a change that would leave some organization with members but
    none able to manage them. `exclude_user_ids`: accounts that stop acting
    (banned, disabled, deleted); `role_overrides`: roles' permissions after
    the change; `global_losers`: users whose global grants (or ownership)
    stop conferring members:manage (a global role or a direct grant taken
    away, ownership given up); `global_gainers`: users who manage every
    organization they belong to after the change (ownership received).
    The caller has locked `organizations_at_stake(...)` of the same change;
    `at_stake`, when given, is what that returned -- the guard counts those
    organizations instead of asking the same question again in the same
    transaction (an empty list: no organization can lose a manager)."""
    role_overrides = role_overrides or {}
    if at_stake is not None:
        if not at_stake:
            return
    elif not _may_lose_a_manager(exclude_user_ids, role_overrides, global_losers):
        return
    unmanaged = orgs_left_unmanaged(
        exclude_user_ids=exclude_user_ids,
        role_overrides=role_overrides,
        global_losers=global_losers,
        global_gainers=global_gainers,
        candidates=at_stake,
    )
    if not unmanaged:
        return
    names = ", ".join(org.name for org in unmanaged)
    raise PolicyDenied(
        "last_manager",
        f"This change would leave nobody in {names} able to manage its members "
        "(give someone there members:manage first).",
        action=action,
        actor=actor,
        target=target,
    )


def _member_managers(user_ids) -> set:
    """Those of `user_ids` who are members of some organization and may
    manage members somewhere (a superset of each organization's managers:
    the full count follows)."""
    holders = UserRole.objects.filter(role__permissions__icontains=f'"{MANAGER}"')
    members = Membership.objects.filter(user_id__in=list(user_ids)).filter(
        Q(user__is_owner=True)
        | Q(user__direct_permissions__icontains=f'"{MANAGER}"')
        | Q(user_id__in=holders.values("user_id"))
    )
    return set(members.values_list("user_id", flat=True).distinct())


def _managers_among(user_ids) -> set:
    """Those of `user_ids` who are members of some organization and may
    manage members somewhere. In a batch (`standing_fixed`) asked once: the
    batch asks first for all of its users (what it locks), then for each
    user, whose answer is read from the first. Asked for everyone instead,
    the question read every membership -- 1.7 s at a million users, most
    of a batch of 1,000 bans (issue 29)."""
    ids = frozenset(user_ids)
    if standing_fixed():
        covered, managers = fixed_answer(
            "org_member_managers", lambda: (ids, _member_managers(ids))
        )
        if ids <= covered:
            return managers & ids
    return _member_managers(ids)


def _may_lose_a_manager(exclude_user_ids, role_overrides, global_losers) -> bool:
    if global_losers:
        return True
    if exclude_user_ids and _managers_among(exclude_user_ids):
        return True
    for role_id, permissions in role_overrides.items():
        before = Role.objects.filter(pk=role_id).values_list("permissions", flat=True).first()
        if before and MANAGER in before and MANAGER not in (permissions or ()):
            return True
    return False


def organizations_at_stake(*, exclude_user_ids=(), role_overrides=None, global_losers=()) -> list:
    """The ids, in order, of the organizations whose managers the change
    (described as for `check_orgs_keep_managers`) could reduce: what its
    service locks before asking the guard. Empty when the change takes no
    manager away (in a batch, asked once for all its users)."""
    role_overrides = role_overrides or {}
    if exclude_user_ids and not role_overrides and not global_losers and not standing_fixed():
        return _excluded_at_stake(exclude_user_ids)
    if not _may_lose_a_manager(exclude_user_ids, role_overrides, global_losers):
        return []
    return _candidates(exclude_user_ids, role_overrides, global_losers)


def _excluded_at_stake(user_ids) -> list:
    """`organizations_at_stake` of accounts that stop acting (a ban, say),
    outside a batch: the same answer as asking `_member_managers` and then
    `_candidates` -- every organization of theirs when one of them manages
    members somewhere -- from their memberships (one simple read, which is
    all that a user in no organization costs) and, when no membership's
    user is the owner or holds the permission directly, one read of their
    roles. The ORM compiling the one query with a join, a subquery and three
    alternatives cost more than running both of these (issue 29)."""
    rows = _memberships_of(list(user_ids))
    if not rows:
        return []
    managing = any(is_owner or _grants(direct) for _, _, is_owner, direct in rows)
    if not managing:
        members = {user_id for user_id, *_ in rows}
        managing = UserRole.objects.filter(
            user_id__in=members, role__permissions__icontains=f'"{MANAGER}"'
        ).exists()
    return sorted({organization_id for _, organization_id, *_ in rows}) if managing else []


# Read by every ban, disable and delete: compiled once per number of
# users (core.compiled).
_memberships_of = Reused(
    lambda user_ids: Membership.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "organization_id", "user__is_owner", "user__direct_permissions"
    )
)


def _grants(permissions) -> bool:
    """Whether a JSON list of permission strings holds `MANAGER`, as the
    queries here ask it (case-insensitively, the whole string)."""
    return any(isinstance(p, str) and p.lower() == MANAGER for p in permissions or ())


def _candidates(exclude_user_ids, role_overrides, global_losers) -> list:
    """The organizations of the users who stop acting or lose a global
    grant, and of the holders of a role that stops conferring the
    permission (globally: their organizations; in one: that one)."""
    touched = [r for r, perms in role_overrides.items() if MANAGER not in (perms or ())]
    holders = UserRole.objects.filter(role_id__in=touched)
    candidates = (
        Membership.objects.filter(
            Q(user_id__in=[*exclude_user_ids, *global_losers])
            | Q(user_id__in=holders.filter(organization__isnull=True).values("user_id"))
        ).values("organization_id")
    ).union(holders.filter(organization__isnull=False).values("organization_id"))
    return sorted({row["organization_id"] for row in candidates})


def orgs_left_unmanaged(
    *,
    exclude_user_ids=(),
    role_overrides=None,
    global_losers=(),
    global_gainers=(),
    candidates=None,
) -> list:
    """The organizations the change would leave unmanaged, by name. Reads
    only: the service has locked them (`organizations_at_stake`; given as
    `candidates`, they are not looked up again)."""
    role_overrides = role_overrides or {}
    excluded = list(exclude_user_ids)
    losers = list(global_losers)
    if candidates is not None:
        ids = list(candidates)
    else:
        ids = _candidates(excluded, role_overrides, losers)
    if not ids:
        return []
    orgs = list(Organization.objects.filter(pk__in=ids).order_by("pk"))
    manager_roles = [
        pk
        for pk, perms in Role.objects.values_list("pk", "permissions")
        if MANAGER in role_overrides.get(pk, perms or ())
    ]
    able = User.objects.filter(status_q("active") | status_q("unverified")).exclude(pk__in=excluded)
    unmanaged = []
    for org in orgs:
        members = Membership.objects.filter(organization=org)
        if excluded and not members.exclude(user_id__in=excluded).exists():
            continue  # nobody else left to manage
        via_role = UserRole.objects.filter(role_id__in=manager_roles).filter(
            Q(organization=org) | (Q(organization__isnull=True) & ~Q(user_id__in=losers))
        )
        managers = able.filter(pk__in=members.values("user_id")).filter(
            Q(pk__in=via_role.values("user_id"))
            | (Q(direct_permissions__icontains=f'"{MANAGER}"') & ~Q(pk__in=losers))
            | (Q(is_owner=True) & ~Q(pk__in=losers))
            | Q(pk__in=list(global_gainers))
        )
        if not managers.exists():
            unmanaged.append(org)
    return sorted(unmanaged, key=lambda org: org.name)
