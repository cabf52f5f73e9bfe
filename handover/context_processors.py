import math

from accounts.services import impersonation as impersonation_services
from core.navigation import pages_for


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
    for page, url in pages_for(perms):
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": page.label, "url": url, "active": active})
    return {
        "nav_items": items,
        "user_permissions": perms,
        "me": me,
        **_impersonation(request, actor),
    }
