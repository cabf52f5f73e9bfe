"""Access rules for views. Every routed view declares one -- `public`,
`signed_in` or `permission_required(...)` -- and the URLconf test fails on a
route without one (fail closed)."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from audit import events
from audit import services as audit
from rbac import policies

RULE_ATTR = "access_rule"


def _mark(view, rule):
    setattr(view, RULE_ATTR, rule)
    return view


def public(view):
    """Reachable without signing in (sign-in, invitation and reset pages)."""
    return _mark(view, ("public",))


def _needs(permissions) -> str:
    if len(permissions) == 1:
        return f"the permission {permissions[0]}"
    return "one of the permissions " + ", ".join(permissions[:-1]) + f" or {permissions[-1]}"


def forbidden(request, *, permission: str | None = None, message: str | None = None):
    text = message or (f"You need {_needs([permission])} to see this page." if permission else None)
    return render(
        request,
        "errors/403.html",
        {"message": text or "You do not have access to this page.", "permission": permission},
        status=403,
    )


def _record_page_denial(request, permissions: tuple[str, ...]) -> None:
    audit.record(
        events.PAGE_DENIED,
        actor=request.actor,
        outcome="denied",
        reason=f"permission_denied: {request.method} {request.path} needs "
        + " or ".join(permissions),
        changes={"missing": list(permissions)},
    )


def signed_in(view):
    """Any signed-in user (their own account pages)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return _mark(wrapper, ("signed_in",))


def permission_required(permission: str, *alternatives: str):
    """Signed in and holding `permission`, or any one of `alternatives` (a
    page that shows a section per permission); 403 naming them otherwise,
    and the refusal is audited."""
    permissions = (permission, *alternatives)

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not any(policies.user_has(request.actor, p) for p in permissions):
                _record_page_denial(request, permissions)
                return forbidden(
                    request,
                    permission=permission,
                    message=f"You need {_needs(permissions)} to see this page.",
                )
            return view(request, *args, **kwargs)

        return _mark(wrapper, ("permission", *permissions))

    return decorator


def owner_required(view):
    """Signed in as the owner (ownership transfer). Everyone else gets 403."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_owner:
            audit.record(
                events.PAGE_DENIED,
                actor=request.actor,
                outcome="denied",
                reason=f"owner_only: {request.method} {request.path} is for the owner",
            )
            return forbidden(request, message="Only the owner can do this.")
        return view(request, *args, **kwargs)

    return _mark(wrapper, ("owner",))
