"""Reads for RBAC: effective permissions and where each comes from."""

from __future__ import annotations

from django.db.models import Count, Q

from rbac.models import Role, UserRole
from rbac.permissions import ALL_PERMISSIONS, CATALOG


def user_effective_permissions(user) -> frozenset[str]:
    """The union of the user's roles' permissions and direct grants; every
    permission for the owner. Computed each time it is asked: an actor
    holds its own (`rbac.actor.Actor.permissions`, once per request), and
    a caller comparing with many users computes theirs at once
    (`prime_permissions`)."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return frozenset()
    if user.is_owner:
        return ALL_PERMISSIONS
    perms = set(p for p in (user.direct_permissions or []) if p in CATALOG)
    for role_perms in Role.objects.filter(userrole__user=user).values_list(
        "permissions", flat=True
    ):
        perms.update(p for p in role_perms if p in CATALOG)
    return frozenset(perms)


def prime_permissions(users) -> dict:
    """Many users' effective permissions in one query, as
    {pk: permissions} (what `user_effective_permissions` answers one by
    one). Give it to the guards through `actor.knowing(...)`, so guards over
    a list of users run no further queries."""
    users = [u for u in users if u is not None and u.pk is not None]
    by_user = {u.pk: {p for p in (u.direct_permissions or []) if p in CATALOG} for u in users}
    rows = UserRole.objects.filter(user_id__in=list(by_user)).values_list(
        "user_id", "role__permissions"
    )
    for user_id, perms in rows:
        by_user[user_id].update(p for p in perms or [] if p in CATALOG)
    return {
        user.pk: ALL_PERMISSIONS if user.is_owner else frozenset(by_user[user.pk]) for user in users
    }


def permission_sources(user) -> dict[str, list[str]]:
    """For each effective permission, the names of what grants it:
    "Owner", a role's name, or "Direct grant"."""
    sources: dict[str, list[str]] = {}
    if user.is_owner:
        for code in ALL_PERMISSIONS:
            sources.setdefault(code, []).append("Owner")
    for role in Role.objects.filter(userrole__user=user).order_by("name"):
        for code in role.permissions:
            if code in CATALOG:
                sources.setdefault(code, []).append(f"Role: {role.name}")
    for code in user.direct_permissions or []:
        if code in CATALOG:
            sources.setdefault(code, []).append("Direct grant")
    return dict(sorted(sources.items()))


def role_list():

    return Role.objects.annotate(
        member_count=Count("userrole", filter=Q(userrole__user__deleted_at__isnull=True))
    ).order_by("-is_builtin", "name")
