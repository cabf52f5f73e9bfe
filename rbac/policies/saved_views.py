"""Guards for saved views (issue 27): a named query string of a list.
Saving one needs the list's own read permission; sharing it with the team
needs `views:share`; only its owner renames, shares or deletes it. Opening
one needs the list's read permission and that it be yours or shared --
what it then shows is the list's answer for the viewer, within their reach.
"""

from __future__ import annotations

from audit import events
from rbac.policies.base import _deny, check_permission, user_has

# Which permission reads each list a view can be saved of.
PAGE_PERMISSIONS = {"users": "users:read", "audit": "audit:read"}
SHARE_PERMISSION = "views:share"


def _page_permission(actor, page: str, *, action: str, target=None) -> None:
    permission = PAGE_PERMISSIONS.get(page)
    if permission is None:
        raise _deny(
            "unknown_page",
            "Views can be saved of the users list and the audit log only.",
            action=action,
            actor=actor,
            target=target,
        )
    check_permission(actor, permission, action=action, target=None)


def check_can_save_view(actor, *, page: str, shared: bool) -> None:
    action = events.SAVED_VIEW_CREATED
    _page_permission(actor, page, action=action)
    if shared:
        check_permission(actor, SHARE_PERMISSION, action=action)


def _check_owner(actor, view, *, action: str) -> None:
    if view.owner_id != getattr(actor, "pk", None):
        raise _deny(
            "not_your_view",
            "Only the person who saved this view can change it.",
            action=action,
            actor=actor,
            target=view,
        )


def check_can_change_view(actor, view, *, shared: bool) -> None:
    """Rename or (un)share: the owner, who still reads the list; making it
    shared needs views:share (keeping it shared, or unsharing, does not)."""
    action = events.SAVED_VIEW_UPDATED
    _check_owner(actor, view, action=action)
    _page_permission(actor, view.page, action=action, target=view)
    if shared and not view.shared:
        check_permission(actor, SHARE_PERMISSION, action=action, target=None)


def check_can_delete_view(actor, view) -> None:
    _check_owner(actor, view, action=events.SAVED_VIEW_DELETED)


def user_may_open_view(actor, view) -> bool:
    """Listed and opened: the viewer reads that list, and the view is
    theirs or shared."""
    permission = PAGE_PERMISSIONS.get(view.page)
    if permission is None or not user_has(actor, permission):
        return False
    return view.shared or view.owner_id == getattr(actor, "pk", None)
