"""Reads for RBAC: effective permissions and where each comes from."""

from __future__ import annotations

from django.db.models import Count, Q

from rbac import credentials
from rbac.models import Role, UserRole
from rbac.permissions import ALL_PERMISSIONS, CATALOG

_CACHE_ATTR = "_rbac_permissions"
_SCOPE_ATTR = "_rbac_scope"


def user_effective_permissions(user) -> frozenset[str]:
    """The union of the user's roles' permissions and direct grants; every
    permission for the owner. Cached on the user object for the request;
    `forget_permissions` clears it after a change."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if user.is_owner:
        perms = ALL_PERMISSIONS
    else:
        perms = set(p for p in (user.direct_permissions or []) if p in CATALOG)
        for role_perms in Role.objects.filter(userrole__user=user).values_list(
            "permissions", flat=True
        ):
            perms.update(p for p in role_perms if p in CATALOG)
        perms = frozenset(perms)
    scope = getattr(user, _SCOPE_ATTR, None)
    if scope is not None:
        perms = perms & scope
    setattr(user, _CACHE_ATTR, perms)
    return perms


def restrict_permissions(user, scope) -> None:
    """Narrow `user`'s effective permissions to `scope` for the life of this
    object (an API key acting as its user). Survives `forget_permissions`."""
    setattr(user, _SCOPE_ATTR, frozenset(scope))
    forget_permissions(user)


def prime_permissions(users) -> None:
    """Compute many users' effective permissions in one query and cache them
    on the objects (as `user_effective_permissions` would, one by one), so
    guards over a list of users run no further queries."""
    users = [u for u in users if u is not None and u.pk is not None]
    by_user = {u.pk: {p for p in (u.direct_permissions or []) if p in CATALOG} for u in users}
    rows = UserRole.objects.filter(user_id__in=list(by_user)).values_list(
        "user_id", "role__permissions"
    )
    for user_id, perms in rows:
        by_user[user_id].update(p for p in perms or [] if p in CATALOG)
    for user in users:
        perms = ALL_PERMISSIONS if user.is_owner else frozenset(by_user[user.pk])
        scope = getattr(user, _SCOPE_ATTR, None)
        if scope is not None:
            perms = perms & scope
        setattr(user, _CACHE_ATTR, perms)


def act_with_scopes(user, scopes) -> None:
    """A background job acts for the person who queued it, through the
    credential they queued it with (`credentials.scopes_of`): started
    through a narrow credential (an API key), with that credential's scopes,
    not with all its user holds; started in a session (`scopes` None), with
    every scope. Never with a fresh proof, and never as the operator's
    shell, whether a worker runs it or an eager task inside the request."""
    if scopes is None:
        credentials.attach(user, credentials.Credential(credentials.JOB))
        return
    restrict_permissions(user, scopes)
    credentials.attach(user, credentials.Credential(credentials.API_KEY, frozenset(scopes)))


def forget_permissions(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


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
