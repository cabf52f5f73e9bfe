from django.urls import NoReverseMatch, reverse

# (label, url name, permission needed or None for any signed-in user)
NAVIGATION = [
    ("Overview", "overview", None),
    ("Users", "users:list", "users:read"),
    ("Invitations", "invitations:list", "invitations:read"),
    ("Roles", "roles:list", "roles:read"),
    ("Audit log", "audit:list", "audit:read"),
    ("API keys", "api_keys:list", "api-keys:read"),
    ("Emails", "emails:list", "emails:read"),
    ("Webhooks", "webhooks:list", "webhooks:read"),
    ("Jobs", "jobs:list", "users:read"),
    ("My account", "account:home", None),
]


def navigation(request):
    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return {"nav_items": []}
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
    return {"nav_items": items, "user_permissions": perms}
