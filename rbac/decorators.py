"""Access rules for views. Every routed view declares one -- `public`,
`signed_in` or `permission_required(...)` -- and the URLconf test fails on a
route without one (fail closed)."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from audit import services as audit
from rbac import policies

RULE_ATTR = "access_rule"


def _mark(view, rule):
    setattr(view, RULE_ATTR, rule)
    return view


def public(view):
    """Reachable without signing in (sign-in, invitation and reset pages)."""
    return _mark(view, ("public",))


def forbidden(request, *, permission: str | None = None, message: str | None = None):
    text = message or (
        f"You need the permission {permission} to see this page." if permission else None
    )
    return render(
        request,
        "errors/403.html",
        {"message": text or "You do not have access to this page.", "permission": permission},
        status=403,
    )


def _record_page_denial(request, permission: str) -> None:

    audit.record(
        "rbac.page.denied",
        actor=request.user,
        outcome="denied",
        reason=f"permission_denied: {request.method} {request.path} needs {permission}",
        changes={"missing": [permission]},
    )


def signed_in(view):
    """Any signed-in user (their own account pages)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return _mark(wrapper, ("signed_in",))


def permission_required(permission: str):
    """Signed in and holding `permission` (403 naming it otherwise)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not policies.user_has(request.user, permission):
                _record_page_denial(request, permission)
                return forbidden(request, permission=permission)
            return view(request, *args, **kwargs)

        return _mark(wrapper, ("permission", permission))

    return decorator


def owner_required(view):
    """Signed in as the owner (ownership transfer). Everyone else gets 403."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_owner:
            audit.record(
                "rbac.page.denied",
                actor=request.user,
                outcome="denied",
                reason=f"owner_only: {request.method} {request.path} is for the owner",
            )
            return forbidden(request, message="Only the owner can do this.")
        return view(request, *args, **kwargs)

    return _mark(wrapper, ("owner",))
