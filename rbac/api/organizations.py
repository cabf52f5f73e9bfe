"""API handlers for organizations and their members
(`/api/admin/organizations`). An organization outside the key's reach
does not exist for it (404), like a user outside it."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import Http404
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from accounts.api.common import get_user, user_out, users_out
from accounts.api.schemas import UserOut
from audit import events
from core.api_errors import ERRORS
from rbac import policies
from rbac.models import Organization
from rbac.services import (
    member_add,
    member_remove,
    member_roles_set,
    organization_create,
    organization_delete,
    organization_update,
)

router = Router(tags=["organizations"])


class OrganizationOut(Schema):
    slug: str
    name: str
    metadata: dict
    created_at: datetime
    member_count: int = 0


class OrganizationIn(Schema):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(..., min_length=1, max_length=50)
    name: str = Field(..., min_length=1, max_length=100)
    metadata: dict = Field(default_factory=dict)


class OrganizationUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    metadata: dict | None = None


class MemberIn(Schema):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    roles: list[str] = Field(default_factory=list, max_length=50)


class MemberRolesIn(Schema):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(..., max_length=50)


def organization_out(org) -> dict:
    return {
        "slug": org.slug,
        "name": org.name,
        "metadata": org.metadata,
        "created_at": org.created_at,
        "member_count": org.membership_set.count(),
    }


def _organization(request, slug: str) -> Organization:
    org = request.auth.visible_organizations().filter(slug=slug).first()
    if org is None:
        raise Http404("This organization does not exist.")
    return org


@router.get("", response={200: list[OrganizationOut], **ERRORS})
def list_organizations(request):
    policies.check_permission(request.auth, "organizations:read", action=events.ORGANIZATION_LISTED)
    return Status(
        200, [organization_out(o) for o in request.auth.visible_organizations().order_by("slug")]
    )


@router.post("", response={201: OrganizationOut, **ERRORS})
def create_organization(request, payload: OrganizationIn):
    org = organization_create(actor=request.auth, **payload.model_dump())
    return Status(201, organization_out(org))


@router.get("/{slug}", response={200: OrganizationOut, **ERRORS})
def get_organization(request, slug: str):
    org = _organization(request, slug)
    policies.check_permission(
        request.auth.within(org),
        "organizations:read",
        action=events.ORGANIZATION_VIEWED,
        target=org,
    )
    return Status(200, organization_out(org))


@router.patch("/{slug}", response={200: OrganizationOut, **ERRORS})
def update_organization(request, slug: str, payload: OrganizationUpdateIn):
    org = organization_update(
        actor=request.auth,
        organization=_organization(request, slug),
        **payload.model_dump(exclude_unset=True),
    )
    return Status(200, organization_out(org))


@router.delete("/{slug}", response={204: None, **ERRORS})
def delete_organization(request, slug: str):
    organization_delete(actor=request.auth, organization=_organization(request, slug))
    return Status(204, None)


@router.get("/{slug}/members", response={200: list[UserOut], **ERRORS})
def list_members(request, slug: str):
    org = _organization(request, slug)
    policies.check_can_read_members(request.auth, org)
    members = list(
        request.auth.visible_users()
        .filter(membership__organization=org, deleted_at__isnull=True)
        .order_by("email")
    )
    return Status(200, users_out(members))


@router.post("/{slug}/members", response={201: UserOut, **ERRORS})
def add_member(request, slug: str, payload: MemberIn):
    org = _organization(request, slug)
    user = get_user(request, payload.user_id)
    member_add(actor=request.auth, organization=org, user=user, roles=payload.roles)
    return Status(201, user_out(user))


@router.patch("/{slug}/members/{uuid:user_id}", response={200: UserOut, **ERRORS})
def update_member(request, slug: str, user_id: uuid.UUID, payload: MemberRolesIn):
    org = _organization(request, slug)
    user = get_user(request, user_id)
    member_roles_set(actor=request.auth, organization=org, user=user, roles=payload.roles)
    return Status(200, user_out(user))


@router.delete("/{slug}/members/{uuid:user_id}", response={204: None, **ERRORS})
def remove_member(request, slug: str, user_id: uuid.UUID):
    org = _organization(request, slug)
    member_remove(actor=request.auth, organization=org, user=get_user(request, user_id))
    return Status(204, None)
