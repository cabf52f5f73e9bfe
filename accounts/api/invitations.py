"""`/api/admin/invitations/...`: list, create, resend and revoke invitations."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.shortcuts import get_object_or_404
from ninja import Router, Status

from accounts.api.common import actor_of, require
from accounts.api.schemas import InvitationCreatedOut, InvitationCreateIn, InvitationOut
from accounts.models import INVITATION_STATUSES, Invitation
from accounts.services.invitations import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from core.api_errors import check_choice, check_limit, responses

router = Router(tags=["invitations"])


def invitation_out(inv: Invitation) -> dict:
    return {
        "id": inv.pk,
        "email": inv.email,
        "name": inv.name,
        "status": inv.status,
        "roles": sorted(r.slug for r in inv.roles.all()),
        "permissions": list(inv.permissions or []),
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
        "accepted_at": inv.accepted_at,
        "revoked_at": inv.revoked_at,
    }


@router.get("", response=responses(200, list[InvitationOut]))
def list_invitations(request, status: str = "", limit: int = 50, before: str = ""):
    require(request, "invitations:read", action="accounts.invitation.listed")
    check_limit(limit)
    qs = Invitation.objects.prefetch_related("roles").order_by("-created_at", "-id")
    if status:
        qs = qs.with_status(check_choice("status", status, INVITATION_STATUSES))
    return Status(200, [invitation_out(i) for i in qs[:limit]])


@router.post("", response=responses(201, InvitationCreatedOut))
def create_invitation(request, payload: InvitationCreateIn):
    expires_in = timedelta(days=payload.expires_in_days) if payload.expires_in_days else None
    invitation, link = invitation_create(
        actor=actor_of(request),
        email=payload.email,
        name=payload.name,
        roles=payload.roles,
        template=payload.template,
        permissions=payload.permissions,
        expires_in=expires_in,
    )
    return Status(201, {**invitation_out(invitation), "link": link})


def _get_invitation(invitation_id) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation_id)


@router.get("/{uuid:invitation_id}", response=responses(200, InvitationOut))
def get_invitation(request, invitation_id: uuid.UUID):
    require(request, "invitations:read", action="accounts.invitation.viewed")
    return Status(200, invitation_out(_get_invitation(invitation_id)))


@router.post("/{uuid:invitation_id}/resend", response=responses(200, InvitationOut))
def resend_invitation(request, invitation_id: uuid.UUID):
    result = invitation_resend(actor=actor_of(request), invitation=_get_invitation(invitation_id))
    invitation = result[0] if isinstance(result, tuple) else result
    return Status(200, invitation_out(Invitation.objects.get(pk=invitation.pk)))


@router.post("/{uuid:invitation_id}/revoke", response=responses(200, InvitationOut))
def revoke_invitation(request, invitation_id: uuid.UUID):
    invitation_revoke(actor=actor_of(request), invitation=_get_invitation(invitation_id))
    return Status(200, invitation_out(Invitation.objects.get(pk=invitation_id)))
