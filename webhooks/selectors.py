"""Reading webhook endpoints and deliveries, behind `webhooks:read`."""

from __future__ import annotations

from core.services import NotFound
from rbac import policies
from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, actor):
    policies.check_can_read_webhooks(actor)
    return WebhookEndpoint.objects.order_by("created_at", "id")


def endpoint_get(pk, *, actor) -> WebhookEndpoint:
    policies.check_can_read_webhooks(actor, action="webhooks.endpoint.listed")
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delivery_list(endpoint: WebhookEndpoint, *, actor, status: str = ""):
    policies.check_can_read_webhooks(actor, action="webhooks.endpoint.listed")
    qs = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")
    if status:
        qs = qs.filter(status=status)
    return qs
