"""The dashboard's pages a person may open, each with the permission it
needs: the sidebar shows the first list, the command palette (Ctrl+K)
offers both. One list, so the palette never offers a page the sidebar
would hide, and neither is hard-coded for everyone."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch

from core.links import page_url


@dataclass(frozen=True)
class Page:
    label: str
    url_name: str
    permission: str | tuple[str, ...] | None  # any one of them; None: anyone signed in
    words: str = ""  # more words the palette matches


# The sidebar, in its order.
NAVIGATION = [
    Page("Overview", "overview", None, "home dashboard"),
    Page("Users", "users:list", "users:read", "people accounts"),
    Page("Invitations", "invitations:list", "invitations:read"),
    Page("Roles", "roles:list", "roles:read", "permissions"),
    Page("Organizations", "organizations:list", "organizations:read", "teams"),
    Page("Audit log", "audit:list", "audit:read", "events history"),
    Page("API keys", "api_keys:list", "api-keys:read", "tokens"),
    Page("Emails", "emails:list", "emails:read", "outbox"),
    Page("Webhooks", "webhooks:list", "webhooks:read"),
    Page("Jobs", "jobs:list", "users:read", "batches"),
    Page("My account", "account:home", None, "profile me"),
]

# Pages the palette offers beyond the sidebar's.
MORE_PAGES = [
    Page("Create a user", "users:create", "users:create", "new add invite"),
    Page("Create a role", "roles:create", "roles:create", "new"),
    Page("Create an API key", "api_keys:create", "api-keys:create", "new token"),
    Page("Change my password", "account:password", None, "account"),
    Page("Set up two-factor authentication", "account:mfa_setup", None, "mfa totp account"),
    Page("Saved views", "saved_views:list", ("users:read", "audit:read"), "filters"),
]


def pages_for(permissions, pages=NAVIGATION) -> list[tuple[Page, str]]:
    """`pages` the holder of `permissions` may open, with their URLs (a
    page whose area is not in this URLconf is left out)."""
    found = []
    for page in pages:
        needed = (page.permission,) if isinstance(page.permission, str) else page.permission
        if needed and not set(needed) & set(permissions):
            continue
        try:
            found.append((page, page_url(page.url_name)))
        except NoReverseMatch:
            continue
    return found
