"""API handlers for the audit log: filters and cursor pagination on id, the
export (CSV or JSON lines, streamed, the same filters) and the hash chain's
verification status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from django.core.cache import cache
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from audit import selectors
from audit import services as audit
from audit.models import AuditEvent, Outcome
from core.api_errors import ERRORS, DateTimeParam, Limit, check_limit, responses
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
    # The organization the event happened in (its id, as `organization_id`
    # in the export); null for an account-wide or installation event.
    organization_id: int | None
    reason: str
    outcome: str
    # What changed; an API call's row also names the key that made it,
    # `credential: {type: "api_key", id, name}` (never the key itself).
    changes: dict
    # "" until the sealer has linked the event into the chain (`seq` None).
    hash: str
    seq: int | None


class EventFilters(Schema):
    """The filters the list and the export share. Dates are RFC 3339 with
    an offset; anything else is a 400."""

    actor_id: uuid.UUID | None = None
    target_id: str = Field("", max_length=64)
    # An event type, or the start of one ("accounts.user.").
    action: str = Field("", max_length=100)
    outcome: Outcome | None = None
    batch_id: uuid.UUID | None = None
    # An organization's slug: the events that happened in it.
    organization: str = Field("", max_length=50)
    since: DateTimeParam | None = None
    until: DateTimeParam | None = None


def _events(request, filters: EventFilters):
    qs = request.auth.visible_events(AuditEvent.objects.all())
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    if filters.batch_id:
        qs = qs.filter(batch_id=filters.batch_id)
    if filters.organization:
        qs = selectors.in_organization(qs, filters.organization)
    if filters.since:
        qs = qs.filter(created_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(created_at__lt=filters.until)
    return qs


@router.get("", response=responses(200, list[EventOut]), summary="List audit events")
def list_events(
    request,
    response: HttpResponse,
    filters: Query[EventFilters],
    before: int | None = None,
    limit: Limit = 50,
):
    """Newest first; the next page is in the `Link` header (`before`)."""
    policies.check_permission(request.auth, "audit:read", action="audit.event.listed")
    check_limit(limit)
    qs = _events(request, filters).order_by("-id")
    if before:
        qs = qs.filter(id__lt=before)
    events = list(qs[: limit + 1])
    if len(events) > limit:
        events = events[:limit]
        params = request.GET.copy()
        params["before"] = str(events[-1].id)
        response["Link"] = f'<{request.path}?{params.urlencode()}>; rel="next"'
    return Status(200, events)


@router.get(
    "/export",
    response={200: str, **ERRORS},
    summary="Export the audit log",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The matching events, newest first, streamed.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def export_events(request, filters: Query[EventFilters], format: Literal["csv", "jsonl"] = "csv"):
    """Every matching event (the list's filters), as CSV or JSON lines,
    streamed from the database; recorded in the audit log like the page's
    export. Needs `audit:export` (and `audit:read` to see any event)."""
    actor = request.auth
    given = {k: str(v) for k, v in filters.model_dump().items() if v}
    policies.check_permission(actor, "audit:export", action="audit.log.exported")
    audit.record(
        "audit.log.exported",
        actor=actor,
        target=audit.Target(type="audit", id="", label="Audit log"),
        changes={"format": format, "filters": given},
    )
    rows = selectors.export_rows(_events(request, filters))
    if format == "csv":
        body, content_type = selectors.csv_lines(rows), "text/csv; charset=utf-8"
    else:
        body, content_type = selectors.jsonl_lines(rows), "application/x-ndjson"
    answer = StreamingHttpResponse(body, content_type=content_type)
    extension = "csv" if format == "csv" else "jsonl"
    answer["Content-Disposition"] = f'attachment; filename="audit-log.{extension}"'
    answer["Cache-Control"] = "no-store"
    return answer


class ChainOut(Schema):
    ok: bool
    checked: int
    # The first event whose link or content does not check out.
    broken_id: int | None
    problem: str
    # The newest verified event, `id:hash`: keep it outside the database
    # and later check the chain still passes through it.
    checkpoint: str
    verified_at: datetime
    # True when this answer is a verification run earlier (at most
    # CHAIN_STATUS_SECONDS ago), not a new walk of the chain.
    cached: bool
    # Always current (not cached): events written and not yet sealed into
    # the chain (audit.services.sealer), and when the oldest of them
    # happened (null when none wait).
    unsealed: int
    oldest_unsealed_at: datetime | None


CHAIN_STATUS_SECONDS = 60
_CHAIN_CACHE_KEY = "audit:chain-status"


@router.get("/chain", response=responses(200, ChainOut), summary="Verify the audit chain")
def chain_status(request):
    """Walk the audit log's hash chain (`audit_verify`) and report the first
    broken link, if any. Walking it reads every event, so a result is
    reused for CHAIN_STATUS_SECONDS. How many events wait for the sealer,
    and since when, is always current. Needs `audit:read`."""
    policies.check_permission(request.auth, "audit:read", action="audit.chain.verified")
    waiting, oldest = audit.unsealed()
    pending = {"unsealed": waiting, "oldest_unsealed_at": oldest}
    known = cache.get(_CHAIN_CACHE_KEY)
    if known is not None:
        return Status(200, {**known, **pending, "cached": True})
    report = audit.verify_chain()
    status = {
        "ok": report.ok,
        "checked": report.checked,
        "broken_id": report.broken_id,
        "problem": report.problem,
        "checkpoint": report.checkpoint,
        "verified_at": timezone.now(),
    }
    cache.set(_CHAIN_CACHE_KEY, status, CHAIN_STATUS_SECONDS)
    return Status(200, {**status, **pending, "cached": False})
