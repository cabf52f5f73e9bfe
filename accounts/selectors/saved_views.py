"""Reads of saved views (issue 27): the ones a person may open, one by id,
and the query string a list's view keeps. A view stores the list's own
query string and never ids: what it shows is the list's answer for
whoever opens it, through `actor.visible_users()` / `visible_events()`."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Case, Q, Value, When
from django.db.models.functions import Lower
from django.http import QueryDict
from django.urls import reverse

from accounts.models import SavedView
from accounts.selectors.listing import SORT_CHOICES
from core.services import NotFound
from rbac import policies
from rbac.policies.saved_views import PAGE_PERMISSIONS

# The parameters of each list a view keeps: its filters and sort (never a
# cursor or a page number, which are positions, not a view).
# tests/accounts/test_saved_views.py checks them against the lists' forms.
VIEW_KEYS = {
    "users": ("q", "status", "role", "organization", "mfa", "inactive_before", "sort", "size"),
    "audit": (
        "q",
        "actor",
        "target",
        "user",
        "action",
        "outcome",
        "date_from",
        "date_to",
        "batch",
        "ip",
        "organization",
    ),
}
LIST_URLS = {"users": "users:list", "audit": "audit:list"}
VIEW_NOT_FOUND = "This saved view does not exist (it may have been deleted)."


def view_query(page: str, query: str) -> str:
    """The part of a list's query string a view keeps, in a fixed order;
    values are kept as typed (the list validates them when it runs)."""
    params = QueryDict(query or "")
    kept = [
        (key, params.get(key, "")[:200])
        for key in VIEW_KEYS.get(page, ())
        if params.get(key, "").strip()
    ]
    return urlencode(kept)


# What each kept parameter is called on its list, for people.
LABELS = {
    "q": "Search",
    "status": "Status",
    "role": "Role",
    "organization": "Organization",
    "mfa": "MFA",
    "inactive_before": "No sign-in since",
    "sort": "Sort",
    "size": "Per page",
    "actor": "Actor",
    "target": "Target",
    "user": "User id",
    "action": "Action",
    "outcome": "Outcome",
    "date_from": "From",
    "date_to": "To",
    "batch": "Batch id",
    "ip": "IP address",
}
_SORTS = dict(SORT_CHOICES)


def view_summary(query: str) -> str:
    """A view's filters in words: "Search: ann · Sort: Newest first"."""
    params = QueryDict(query or "")
    parts = []
    for key in LABELS:
        value = params.get(key, "")
        if value:
            shown = _SORTS.get(value, value) if key == "sort" else value
            parts.append(f"{LABELS[key]}: {shown}")
    return " · ".join(parts) or "No filters: the whole list"


def view_url(view: SavedView) -> str:
    """Where opening the view lands: the list with the view's query."""
    url = reverse(LIST_URLS[view.page])
    return f"{url}?{view.query}" if view.query else url


def saved_views_for(actor, *, q: str = "", limit: int | None = None) -> list[SavedView]:
    """The views `actor` may open: their own and the team's shared ones, of
    the lists they read; own first, then by name."""
    pages = [page for page, perm in PAGE_PERMISSIONS.items() if policies.user_has(actor, perm)]
    if not pages or getattr(actor, "pk", None) is None:
        return []
    views = (
        SavedView.objects.filter(page__in=pages)
        .filter(Q(owner_id=actor.pk) | Q(shared=True))
        .select_related("owner")
    )
    if q:
        views = views.filter(name__icontains=q[:80])
    views = views.order_by(
        Case(When(owner_id=actor.pk, then=Value(0)), default=Value(1)), Lower("name"), "id"
    )
    return list(views[:limit] if limit else views)


def saved_view_get(pk, *, actor) -> SavedView:
    """One view `actor` may open, or `NotFound` (someone else's unshared
    view does not exist for them)."""
    try:
        view = SavedView.objects.select_related("owner").get(pk=pk)
    except (SavedView.DoesNotExist, ValueError):
        raise NotFound(VIEW_NOT_FOUND) from None
    if not policies.user_may_open_view(actor, view):
        raise NotFound(VIEW_NOT_FOUND)
    return view
