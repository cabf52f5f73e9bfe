import math

from django.urls import NoReverseMatch, reverse

from accounts.services import impersonation as impersonation_services

# (label, url name, permission needed or None for any signed-in user)
NAVIGATION = [
    ("Overview", "overview", None),
    ("Users", "users:list", "users:read"),
    ("Invitations", "invitations:list", "invitations:read"),
    ("Roles", "roles:list", "roles:read"),
    ("Organizations", "organizations:list", "organizations:read"),
    ("Audit log", "audit:list", "audit:read"),
    ("API keys", "api_keys:list", "api-keys:read"),
    ("Emails", "emails:list", "emails:read"),
    ("Webhooks", "webhooks:list", "webhooks:read"),
    ("Jobs", "jobs:list", "users:read"),
    ("My account", "account:home", None),
]


def _impersonation(request, actor) -> dict:
    """The banner every page shows while viewing as someone (issue 26), or
    the notice that such a view just ended."""
    notice = getattr(request, "impersonation_notice", "")
    if actor is None or actor.acting_for is None:
        return {"impersonation_notice": notice} if notice else {}
    left = (actor.credential.expires_at - impersonation_services.now()).total_seconds()
    return {
        "impersonation": {
            "user": actor.acting_for,
            "minutes_left": max(1, math.ceil(left / 60)),
        }
    }


def navigation(request):
    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return {"nav_items": [], **_impersonation(request, actor)}
    # "My account", "Welcome": whose dashboard this is (the user viewed as,
    # while impersonating; `request.user` stays the operator).
    me = actor.person
    perms = actor.permissions
    path = request.path
    items = []
    for label, name, perm in NAVIGATION:
        if perm is not None and perm not in perms:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:  # an area not installed in this URLconf
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {
        "nav_items": items,
        "user_permissions": perms,
        "me": me,
        **_impersonation(request, actor),
    }
