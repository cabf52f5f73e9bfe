"""Saved views (issue 27): name the filters and sort of a list, rename,
share with the team, delete. Each locks its row, asks its guard, returns
early when nothing changes and writes its audit event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import SavedView
from accounts.selectors.saved_views import VIEW_NOT_FOUND, view_query
from audit import events
from audit import services as audit
from core.services import NotFound, service
from rbac import policies

NAME_MAX = 80


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Give the view a name.", code="name_required")
    if len(name) > NAME_MAX:
        raise ValidationError(
            f"Keep the name to {NAME_MAX} characters or fewer.", code="name_too_long"
        )
    return name


def _check_name_free(owner_id, page: str, name: str, *, exclude=None) -> None:
    taken = SavedView.objects.filter(owner_id=owner_id, page=page, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError(
            f"You already have a view called “{name}” here.", code="duplicate_name"
        )


@service
def saved_view_create(*, actor, page: str, name: str, query: str, shared: bool = False):
    """Save the filters and sort in `query` (a list's query string) as a
    view of `page` ("users" or "audit") owned by the actor."""
    policies.check_can_save_view(actor, page=page, shared=shared)
    name = _clean_name(name)
    _check_name_free(actor.pk, page, name)
    view = SavedView.objects.create(
        owner_id=actor.pk, page=page, name=name, query=view_query(page, query), shared=shared
    )
    audit.record(
        events.SAVED_VIEW_CREATED,
        actor=actor,
        target=view,
        changes={"page": [None, page], "query": [None, view.query], "shared": [None, shared]},
    )
    return view


def _lock(view) -> SavedView:
    try:
        return SavedView.objects.select_for_update().get(pk=view.pk)
    except SavedView.DoesNotExist:
        raise NotFound(VIEW_NOT_FOUND) from None


@service
def saved_view_update(*, actor, view, name: str, shared: bool):
    """Rename a view and/or share it with the team (or stop sharing)."""
    view = _lock(view)
    policies.check_can_change_view(actor, view, shared=shared)
    name = _clean_name(name)
    changes = {}
    if name != view.name:
        _check_name_free(view.owner_id, view.page, name, exclude=view)
        changes["name"] = [view.name, name]
    if shared != view.shared:
        changes["shared"] = [view.shared, shared]
    if not changes:
        return view
    view.name, view.shared, view.updated_at = name, shared, timezone.now()
    view.save(update_fields=["name", "shared", "updated_at"])
    audit.record(events.SAVED_VIEW_UPDATED, actor=actor, target=view, changes=changes)
    return view


@service
def saved_view_delete(*, actor, view) -> None:
    view = _lock(view)
    policies.check_can_delete_view(actor, view)
    audit.record(
        events.SAVED_VIEW_DELETED,
        actor=actor,
        target=view,
        changes={"name": [view.name, None], "query": [view.query, None]},
    )
    view.delete()
