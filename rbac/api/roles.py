"""API handlers for roles."""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from audit import events
from core.api_errors import ERRORS
from rbac import policies
from rbac.models import Role
from rbac.selectors import role_list
from rbac.services import role_create, role_delete, role_update

router = Router(tags=["roles"])


class RoleOut(Schema):
    slug: str
    name: str
    description: str
    permissions: list[str]
    is_builtin: bool
    member_count: int = 0
    updated_at: datetime


class RoleCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(..., min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=100)
    description: str = Field("", max_length=2000)
    permissions: list[str] = Field(default_factory=list, max_length=100)
    template: str | None = None


class RoleUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    permissions: list[str] | None = Field(None, max_length=100)


def _require(request, permission, action):
    policies.check_permission(request.auth, permission, action=action)


def _role(slug) -> Role:
    return get_object_or_404(role_list(), slug=slug)


@router.get("", response={200: list[RoleOut], **ERRORS})
def list_roles(request):
    _require(request, "roles:read", events.ROLE_LISTED)
    return Status(200, list(role_list()))


@router.get("/{slug}", response={200: RoleOut, **ERRORS})
def get_role(request, slug: str):
    _require(request, "roles:read", events.ROLE_VIEWED)
    return Status(200, _role(slug))


@router.post("", response={201: RoleOut, **ERRORS})
def create_role(request, payload: RoleCreateIn):
    role = role_create(actor=request.auth, **payload.model_dump())
    return Status(201, _role(role.slug))


@router.patch("/{slug}", response={200: RoleOut, **ERRORS})
def update_role(request, slug: str, payload: RoleUpdateIn):
    role = role_update(
        actor=request.auth, role=_role(slug), **payload.model_dump(exclude_unset=True)
    )
    return Status(200, _role(role.slug))


@router.delete("/{slug}", response={204: None, **ERRORS})
def delete_role(request, slug: str, confirm: bool = False):
    role_delete(actor=request.auth, role=_role(slug), confirm=confirm)
    return Status(204, None)
