"""`/api/admin/invitations/...`: list, create, resend and revoke invitations."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from accounts.api.common import actor_of, require
from accounts.api.schemas import (
    InvitationCreatedOut,
    InvitationCreateIn,
    InvitationImportIn,
    InvitationImportOut,
    InvitationOut,
)
from accounts.models import INVITATION_STATUSES, Invitation
from accounts.services import invitation_import as import_services
from accounts.services.invitations import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from audit import events
from core.api_errors import Limit, check_choice, check_limit, responses

router = Router(tags=["invitations"])


def invitation_out(inv: Invitation) -> dict:
    return {
        "id": inv.pk,
        "email": inv.email,
        "name": inv.name,
        "status": inv.status,
        "roles": sorted(r.slug for r in inv.roles.all()),
        "permissions": list(inv.permissions or []),
        "organization": inv.organization.slug if inv.organization_id else None,
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
        "accepted_at": inv.accepted_at,
        "revoked_at": inv.revoked_at,
    }


InvitationStatus = Literal["pending", "expired", "accepted", "revoked"]


@router.get("", response=responses(200, list[InvitationOut]))
def list_invitations(request, status: InvitationStatus | None = None, limit: Limit = 50):
    require(request, "invitations:read", action=events.INVITATION_LISTED)
    check_limit(limit)
    qs = Invitation.objects.prefetch_related("roles").order_by("-created_at", "-id")
    if status:
        qs = qs.with_status(check_choice("status", status, INVITATION_STATUSES))  # the schema's
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
        organization=payload.organization,
    )
    return Status(201, {**invitation_out(invitation), "link": link})


@router.post(
    "/import",
    response={**responses(200, InvitationImportOut), 202: InvitationImportOut},
    summary="Import invitations from a CSV",
)
def import_invitations(request, payload: InvitationImportIn):
    """Every row is checked first (address, duplicates, existing accounts,
    pending invitations, roles, escalation) and reported with its line;
    then the valid rows are invited, each through `invitation_create` as on
    the page: up to the page's inline limit in this request (200, each
    row's outcome and its link, shown once), more by a background job (202,
    `job_id`). `dry_run` only checks."""
    actor = actor_of(request)
    require(request, "invitations:create", action=events.INVITATION_IMPORTED)
    rows = import_services.invitation_rows_from_csv(payload.csv, roles=payload.roles)
    if not rows:
        raise ValidationError("The CSV holds no address.", code="empty_import")
    if len(rows) > settings.INVITATION_IMPORT_MAX:
        raise ValidationError(
            "At most %(max)d addresses at once (%(given)d given); split the list.",
            code="too_many",
            params={"max": settings.INVITATION_IMPORT_MAX, "given": len(rows)},
        )
    rows = import_services.invitation_rows_validate(
        actor=actor, rows=rows, template=payload.template
    )
    report = [{**r.as_dict(), "errors": r.errors} for r in rows]
    good = [r.as_dict() for r in rows if r.ok]
    answer = {
        "rows": report,
        "valid": len(good),
        "invalid": len(rows) - len(good),
        "sent": 0,
        "failed": 0,
        "dry_run": payload.dry_run,
        "job_id": None,
    }
    if payload.dry_run or not good:
        return Status(200, answer)
    days = payload.expires_in_days or settings.INVITATION_TTL.days
    if len(good) > import_services.INLINE_LIMIT:
        job = import_services.invitation_import_start(
            actor=actor, rows=good, template=payload.template, expires_days=days
        )
        return Status(202, {**answer, "job_id": job.pk})
    by_line = {r["line"]: r for r in report}
    for row in good:
        result = import_services.invitation_import_row(
            actor=actor,
            row=row,
            template=payload.template,
            expires_in=timedelta(days=days),
            with_link=True,
        )
        by_line[row["line"]].update(
            sent=result["ok"],
            error=result.get("error", ""),
            invitation_id=result.get("invitation_id"),
            link=result.get("link", ""),
        )
        answer["sent" if result["ok"] else "failed"] += 1
    return Status(200, answer)


def _get_invitation(invitation_id) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation_id)


@router.get("/{uuid:invitation_id}", response=responses(200, InvitationOut))
def get_invitation(request, invitation_id: uuid.UUID):
    require(request, "invitations:read", action=events.INVITATION_VIEWED)
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
