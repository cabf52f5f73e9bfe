"""Reads for RBAC: effective permissions and where each comes from."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q

from accounts.models import User
from rbac.models import Membership, Role, UserRole
from rbac.permissions import ALL_PERMISSIONS, CATALOG, SCOPABLE


def _conferred(perms, organization_id) -> set[str]:
    """What a role's permissions confer: all of them held globally, the
    organization-scopable ones held inside an organization."""
    allowed = CATALOG if organization_id is None else SCOPABLE
    return {p for p in perms or () if p in allowed}


def user_grants(user) -> tuple[frozenset[str], dict]:
    """What the user holds and where: (global permissions, {organization
    id: permissions held in it}). Global ones are the direct grants and the
    global roles; a role held in an organization confers its scopable
    permissions there, and only while the user is a member of it. Every
    permission globally for the owner."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return frozenset(), {}
    if user.is_owner:
        return ALL_PERMISSIONS, {}
    global_perms = {p for p in (user.direct_permissions or []) if p in CATALOG}
    by_org: dict = {}
    rows = list(
        UserRole.objects.filter(user=user).values_list("organization_id", "role__permissions")
    )
    member_of = set()
    if any(org_id is not None for org_id, _ in rows):
        member_of = set(
            Membership.objects.filter(user=user).values_list("organization_id", flat=True)
        )
    for org_id, perms in rows:
        if org_id is None:
            global_perms |= _conferred(perms, None)
        elif org_id in member_of:
            by_org.setdefault(org_id, set()).update(_conferred(perms, org_id))
    return frozenset(global_perms), {k: frozenset(v) for k, v in by_org.items()}


def user_effective_permissions(user) -> frozenset[str]:
    """Everything the user holds anywhere: the direct grants, the global
    roles' permissions and what roles held in organizations confer there;
    every permission for the owner. What the hierarchy compares a target
    with (someone who holds a permission in any organization is not below
    an actor who lacks it). Computed each time it is asked: an actor holds
    its own (`rbac.actor.Actor.permissions`, once per request), and a
    caller comparing with many users computes theirs at once
    (`prime_permissions`)."""
    global_perms, by_org = user_grants(user)
    return global_perms.union(*by_org.values())


def prime_permissions(users, organizations=None) -> dict:
    """Many users' effective permissions in one query, as
    {pk: permissions} (what `user_effective_permissions` answers one by
    one). Give it to the guards through `actor.knowing(...)`, so guards over
    a list of users run no further queries. `organizations`: what
    `prime_organizations(users)` answered, when the caller read it."""
    users = [u for u in users if u is not None and u.pk is not None]
    pks = [u.pk for u in users]
    held = UserRole.objects.filter(user_id__in=pks)
    if organizations is not None:  # `prime_organizations(users)`, read already
        rows = held.values_list("user_id", "organization_id", "role__permissions")
        return _effective(users, rows, organizations)
    # Whether each role's holder is a member where it is held: same query.
    member = Membership.objects.filter(
        user_id=OuterRef("user_id"), organization_id=OuterRef("organization_id")
    )
    rows, member_of = [], {pk: {} for pk in pks}
    for user_id, org_id, perms, is_member in held.annotate(member=Exists(member)).values_list(
        "user_id", "organization_id", "role__permissions", "member"
    ):
        rows.append((user_id, org_id, perms))
        if org_id is not None and is_member:
            member_of[user_id][org_id] = None
    return _effective(users, rows, member_of)


def _effective(users, rows, organizations) -> dict:
    """{pk: effective permissions} from the users' role rows (user id,
    organization id, the role's permissions) and their organizations ({pk:
    {organization id: ...}}): a role held in an organization counts only
    while the user is a member of it."""
    by_user = {u.pk: {p for p in (u.direct_permissions or []) if p in CATALOG} for u in users}
    for user_id, org_id, perms in rows:
        if org_id is None or org_id in organizations.get(user_id, ()):
            by_user[user_id].update(_conferred(perms, org_id))
    return {
        user.pk: ALL_PERMISSIONS if user.is_owner else frozenset(by_user[user.pk]) for user in users
    }


def prime_organizations(users) -> dict:
    """Many users' organizations in one query, as {pk: {organization id:
    name}} (what `rbac.actor.organizations_of` answers one by one). Give it
    to the guards with `actor.knowing(permissions, organizations)`."""
    out = {u.pk: {} for u in users if u is not None and u.pk is not None}
    for user_id, org_id, name in Membership.objects.filter(user_id__in=list(out)).values_list(
        "user_id", "organization_id", "organization__name"
    ):
        out[user_id][org_id] = name
    return out


@dataclass(frozen=True)
class Holdings:
    """What a page of users holds, read in one query: what the guards
    need (`permissions` as `prime_permissions` answers, `organizations` as
    `prime_organizations`) and what the page shows (each user's role names
    by name, each organization's slug, and the caller's own `annotations`
    of each user)."""

    permissions: dict  # {pk: frozenset of permissions}
    organizations: dict  # {pk: {organization id: name}}
    role_names: dict  # {pk: [role name, ...]}, by name
    slugs: dict  # {organization id: slug}
    annotations: dict = field(default_factory=dict)  # {pk: {name: value}}


def prime_holdings(users) -> Holdings:
    """Roles and memberships of many users at once, for the guards and for
    a page: one query whatever the number of users (`holdings_values`,
    put apart by `holdings_of`)."""
    users = [u for u in users if u is not None and u.pk is not None]
    return holdings_of(users, holdings_values(User.objects.filter(pk__in=[u.pk for u in users])))


def holdings_values(users):
    """The query behind `prime_holdings` over `users` (a queryset of
    users, maybe annotated with what else a page shows of each: the
    annotations come last in each row, `Holdings.annotations`). It walks
    from the users to both their memberships and their role assignments,
    so a user with m memberships and r roles comes back in m x r rows (one
    with NULLs for a user with neither): one list of ids bound once, where
    a query per table bound it twice (~0.7 ms of a page of 50, issue 29)."""
    return users.order_by().values_list(
        "pk",
        "membership__organization_id",
        "membership__organization__slug",
        "membership__organization__name",
        "userrole__id",
        "userrole__organization_id",
        "userrole__role__permissions",
        "userrole__role__name",
        "userrole__role_id",
        *users.query.annotations,
    )


def holdings_of(users, rows, *, names=()) -> Holdings:
    """`Holdings` of `users` from the rows of `holdings_values` over them,
    whose annotations are `names`."""
    pks = [u.pk for u in users]
    organizations = {pk: {} for pk in pks}
    slugs = {}
    assignments = {}  # {user role id: (user id, organization id, permissions, name, role id)}
    extra = {pk: {} for pk in pks}
    names = list(names)
    for row in rows:
        user_id, org_id, slug, org_name, held_id, held_org_id, perms, name, role_id = row[:9]
        extra[user_id] = dict(zip(names, row[9:], strict=True))
        if org_id is not None:
            organizations[user_id][org_id] = org_name
            slugs[org_id] = slug
        if held_id is not None:
            assignments[held_id] = (user_id, held_org_id, perms, name, role_id)
    ordered = sorted(assignments.values(), key=lambda row: (row[3], row[4]))  # by role name
    role_names = {pk: [] for pk in pks}
    for user_id, _, _, name, _ in ordered:
        role_names[user_id].append(name)
    return Holdings(
        permissions=_effective(users, [r[:3] for r in ordered], organizations),
        organizations=organizations,
        role_names=role_names,
        slugs=slugs,
        annotations=extra,
    )


def permission_sources(user) -> dict[str, list[str]]:
    """For each effective permission, the names of what grants it:
    "Owner", a role's name, or "Direct grant"."""
    sources: dict[str, list[str]] = {}
    if user.is_owner:
        for code in ALL_PERMISSIONS:
            sources.setdefault(code, []).append("Owner")
    for held in (
        UserRole.objects.filter(user=user)
        .select_related("role", "organization")
        .order_by("organization__name", "role__name")
    ):
        org = held.organization
        for code in sorted(_conferred(held.role.permissions, org and org.pk)):
            where = f" in {org.name}" if org is not None else ""
            sources.setdefault(code, []).append(f"Role: {held.role.name}{where}")
    for code in user.direct_permissions or []:
        if code in CATALOG:
            sources.setdefault(code, []).append("Direct grant")
    return dict(sorted(sources.items()))


# How many organizations a filter's search field suggests at a time.
ORGANIZATION_SUGGESTIONS = 20


def organization_suggestions(actor, text: str) -> list[tuple[str, str]]:
    """(slug, name) of the first ORGANIZATION_SUGGESTIONS organizations
    `actor` sees whose name or slug holds `text` (any, when empty), by
    name: what a filter's organization search field suggests
    (`core.widgets.SuggestInput`, on the users list and the audit log)."""
    text = (text or "").strip()[:100]
    found = actor.visible_organizations()
    if text:
        found = found.filter(Q(name__icontains=text) | Q(slug__icontains=text))
    return list(found.order_by("name").values_list("slug", "name")[:ORGANIZATION_SUGGESTIONS])


def role_list():

    return Role.objects.annotate(
        member_count=Count("userrole", filter=Q(userrole__user__deleted_at__isnull=True))
    ).order_by("-is_builtin", "name")


def role_holdings(user_ids) -> dict:
    """For each user id: ({global role slugs}, [{"slug", "name", "roles"}]
    for each organization they belong to, with the roles held there), in
    two queries whatever the number of users."""
    user_ids = list(user_ids)
    out = {pk: ([], {}) for pk in user_ids}
    for user_id, slug, name in (
        Membership.objects.filter(user_id__in=user_ids)
        .order_by("organization__slug")
        .values_list("user_id", "organization__slug", "organization__name")
    ):
        out[user_id][1][slug] = {"slug": slug, "name": name, "roles": []}
    for user_id, org_slug, role_slug in (
        UserRole.objects.filter(user_id__in=user_ids)
        .order_by("role__slug")
        .values_list("user_id", "organization__slug", "role__slug")
    ):
        if org_slug is None:
            out[user_id][0].append(role_slug)
        elif org_slug in out[user_id][1]:
            out[user_id][1][org_slug]["roles"].append(role_slug)
    return {pk: (sorted(g), list(orgs.values())) for pk, (g, orgs) in out.items()}
