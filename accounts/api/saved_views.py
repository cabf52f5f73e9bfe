"""`/api/admin/views/...`: saved views (issue 27) -- the named filters and
sort of the users list or the audit log, as the dashboard's `/views/` pages
keep them. A view is a query string, never a list of ids: what it shows is
the list's answer for whoever opens it, within their reach. Only its owner
renames, shares or deletes it; sharing needs `views:share`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from accounts.api.common import actor_of
from accounts.selectors.saved_views import saved_view_get, saved_views_for, view_summary, view_url
from accounts.services import saved_views as services
from core.api_errors import ERRORS, Limit, responses

router = Router(tags=["saved views"])


class SavedViewOut(Schema):
    id: uuid.UUID
    page: str = Field(..., description='"users" or "audit".')
    name: str
    query: str = Field(..., description="The list's query string the view keeps.")
    summary: str = Field(..., description="The filters in words.")
    url: str = Field(..., description="The dashboard list with the view applied.")
    shared: bool
    mine: bool
    owner: str
    created_at: datetime
    updated_at: datetime


class SavedViewIn(Schema):
    model_config = ConfigDict(extra="forbid")
    page: Literal["users", "audit"]
    name: str = Field(..., min_length=1, max_length=200)
    query: str = Field(
        "", max_length=2000, description='A list\'s query string: "q=ann&sort=email".'
    )
    shared: bool = False


class SavedViewPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    shared: bool | None = None


def _out(view, actor) -> dict:
    return {
        "id": view.pk,
        "page": view.page,
        "name": view.name,
        "query": view.query,
        "summary": view_summary(view.query),
        "url": view_url(view),
        "shared": view.shared,
        "mine": view.owner_id == actor.pk,
        "owner": view.owner.display_name,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


@router.get("", response=responses(200, list[SavedViewOut]), summary="List saved views")
def list_views(request, q: str = "", limit: Limit = 50):
    """Your own views and the team's shared ones, of the lists you read;
    yours first, then by name; `q` searches the names."""
    actor = actor_of(request)
    return Status(200, [_out(v, actor) for v in saved_views_for(actor, q=q, limit=limit)])


@router.post("", response=responses(201, SavedViewOut), summary="Save a view")
def create_view(request, payload: SavedViewIn):
    actor = actor_of(request)
    view = services.saved_view_create(
        actor=actor,
        page=payload.page,
        name=payload.name,
        query=payload.query,
        shared=payload.shared,
    )
    return Status(201, _out(saved_view_get(view.pk, actor=actor), actor))


@router.get("/{uuid:view_id}", response=responses(200, SavedViewOut), summary="Get a saved view")
def get_view(request, view_id: uuid.UUID):
    actor = actor_of(request)
    return Status(200, _out(saved_view_get(view_id, actor=actor), actor))


@router.patch(
    "/{uuid:view_id}", response=responses(200, SavedViewOut), summary="Rename or (un)share"
)
def update_view(request, view_id: uuid.UUID, payload: SavedViewPatch):
    actor = actor_of(request)
    view = saved_view_get(view_id, actor=actor)
    services.saved_view_update(
        actor=actor,
        view=view,
        name=view.name if payload.name is None else payload.name,
        shared=view.shared if payload.shared is None else payload.shared,
    )
    return Status(200, _out(saved_view_get(view_id, actor=actor), actor))


@router.delete("/{uuid:view_id}", response={204: None, **ERRORS}, summary="Delete a saved view")
def delete_view(request, view_id: uuid.UUID):
    actor = actor_of(request)
    services.saved_view_delete(actor=actor, view=saved_view_get(view_id, actor=actor))
    return Status(204, None)
