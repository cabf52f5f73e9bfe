"""`/api/admin/webhooks/...`: endpoints (the secret only in the answers of
create and rotate-secret), their delivery logs and replays."""

from __future__ import annotations

import uuid
from datetime import datetime

from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from core.api_errors import ERRORS, Limit, responses
from webhooks import selectors
from webhooks.models import DeliveryStatus
from webhooks.services import endpoints as services

router = Router(tags=["webhooks"])


class EndpointOut(Schema):
    id: uuid.UUID
    url: str
    description: str
    events: list[str] = Field(..., description='Event types sent; ["*"] for all.')
    enabled: bool
    disabled_reason: str
    rotating: bool = Field(..., description="The previous secret still signs too.")
    created_at: datetime
    updated_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(..., description="whsec_... Shown this once.")


class EndpointCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(..., min_length=1, max_length=2000)
    events: list[str] = Field(default_factory=list, max_length=100)
    description: str = Field("", max_length=500)


class EndpointUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, min_length=1, max_length=2000)
    events: list[str] | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class DeliveryOut(Schema):
    id: int
    webhook_id: str
    event_type: str
    sequence: int | None  # None until its audit event is sealed (not sent before)
    audit_event_id: int | None = None
    audit_hash: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    response_code: int | None = None
    duration_ms: int | None = None
    response_excerpt: str
    last_error: str


def endpoint_out(endpoint, secret: str | None = None) -> dict:
    out = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.event_types or ["*"],
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "rotating": len(endpoint.signing_secrets()) > 1,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if secret is not None:
        out["secret"] = secret
    return out


@router.get("", response=responses(200, list[EndpointOut]), summary="List webhook endpoints")
def list_endpoints(request):
    return Status(200, [endpoint_out(e) for e in selectors.endpoint_list(actor=request.auth)])


@router.post("", response=responses(201, EndpointCreatedOut), summary="Add a webhook endpoint")
def create_endpoint(request, payload: EndpointCreateIn):
    endpoint, secret = services.endpoint_create(
        actor=request.auth,
        url=payload.url,
        description=payload.description,
        event_types=payload.events,
    )
    return Status(201, endpoint_out(endpoint, secret))


@router.get("/{uuid:endpoint_id}", response=responses(200, EndpointOut), summary="Get one")
def get_endpoint(request, endpoint_id: uuid.UUID):
    return Status(200, endpoint_out(selectors.endpoint_get(endpoint_id, actor=request.auth)))


@router.patch("/{uuid:endpoint_id}", response=responses(200, EndpointOut), summary="Change one")
def update_endpoint(request, endpoint_id: uuid.UUID, payload: EndpointUpdateIn):
    endpoint = services.endpoint_update(
        actor=request.auth,
        endpoint=endpoint_id,
        url=payload.url,
        description=payload.description,
        event_types=payload.events,
        enabled=payload.enabled,
    )
    return Status(200, endpoint_out(endpoint))


@router.delete("/{uuid:endpoint_id}", response={204: None, **ERRORS}, summary="Remove one")
def delete_endpoint(request, endpoint_id: uuid.UUID):
    services.endpoint_delete(actor=request.auth, endpoint=endpoint_id)
    return Status(204, None)


@router.post(
    "/{uuid:endpoint_id}/rotate-secret",
    response=responses(200, EndpointCreatedOut),
    summary="Rotate the secret (both sign for a while)",
)
def rotate_secret(request, endpoint_id: uuid.UUID):
    endpoint, secret = services.endpoint_rotate_secret(actor=request.auth, endpoint=endpoint_id)
    return Status(200, endpoint_out(endpoint, secret))


@router.post(
    "/{uuid:endpoint_id}/test", response=responses(202, EndpointOut), summary="Send a test event"
)
def send_test(request, endpoint_id: uuid.UUID):
    endpoint = services.endpoint_send_test(actor=request.auth, endpoint=endpoint_id)
    return Status(202, endpoint_out(endpoint))


@router.get(
    "/{uuid:endpoint_id}/deliveries",
    response=responses(200, list[DeliveryOut]),
    summary="The delivery log, newest first",
)
def list_deliveries(
    request, endpoint_id: uuid.UUID, status: DeliveryStatus | None = None, limit: Limit = 50
):
    endpoint = selectors.endpoint_get(endpoint_id, actor=request.auth)
    rows = selectors.delivery_list(endpoint, actor=request.auth, status=status or "")[:limit]
    return Status(200, list(rows))


@router.post(
    "/{uuid:endpoint_id}/deliveries/{int:delivery_id}/replay",
    response=responses(202, DeliveryOut),
    summary="Send a delivery again (same webhook-id)",
)
def replay(request, endpoint_id: uuid.UUID, delivery_id: int):
    delivery = services.delivery_replay(
        actor=request.auth, endpoint=endpoint_id, delivery_id=delivery_id
    )
    return Status(202, delivery)
