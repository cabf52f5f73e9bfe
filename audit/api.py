"""API handlers for the audit log: filters and cursor pagination on id."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpResponse
from ninja import Router, Schema, Status

from audit.models import AuditEvent
from core.api_errors import ErrorOut, check_limit
from rbac import policies

router = Router(tags=["audit"])


class EventOut(Schema):
    id: int
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    target_label: str
    ip: str | None
    user_agent: str
    request_id: str
    batch_id: uuid.UUID | None
    reason: str
    outcome: str
    changes: dict
    hash: str


@router.get("", response={200: list[EventOut], 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def list_events(
    request,
    response: HttpResponse,
    actor_id: uuid.UUID | None = None,
    target_id: str = "",
    action: str = "",
    outcome: str = "",
    batch_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
):
    policies.check_permission(request.auth, "audit:read", action="audit.event.listed")
    check_limit(limit)
    qs = request.auth.visible_events(AuditEvent.objects.all()).order_by("-id")
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if target_id:
        qs = qs.filter(target_id=target_id[:64])
    if action:
        qs = qs.filter(action__startswith=action[:100])
    if outcome:
        qs = qs.filter(outcome=outcome[:10])
    if batch_id:
        qs = qs.filter(batch_id=batch_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    if before:
        qs = qs.filter(id__lt=before)
    events = list(qs[: limit + 1])
    if len(events) > limit:
        events = events[:limit]
        params = request.GET.copy()
        params["before"] = str(events[-1].id)
        response["Link"] = f'<{request.path}?{params.urlencode()}>; rel="next"'
    return Status(200, events)
