"""What people do to webhook endpoints: add, change, remove, rotate the
secret, send a test event, replay a delivery. Each is one service: lock
the endpoint, ask its guard, check the input, save, audit -- in one
transaction. The secret is returned once (create, rotate) and stored
sealed; it never appears in an audit row or an answer after that."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.services.sealing import seal
from audit import events
from audit import services as audit
from core.services import NotFound, service
from rbac import policies
from rbac.actor import as_actor
from webhooks import net
from webhooks.catalogue import CATALOGUE
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import TESTED, delivery_enqueue, endpoint_target

SECRET_BYTES = 32


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the spec asks 24 or more)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def validate_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ValidationError("The URL is too long.", code="invalid_url")
    try:
        scheme, host, port = net.check_url(url)
        if not settings.WEBHOOKS_ALLOW_PRIVATE:
            net.resolve(host, port)
    except net.Unresolvable:
        pass  # it may resolve later; every delivery checks it again
    except net.UnsafeURL as exc:
        raise ValidationError(str(exc), code="unsafe_url") from None
    return url


def validate_event_types(event_types) -> list[str]:
    """A list of catalogue event types; empty (or `["*"]`) means all."""
    if event_types is None:
        return []
    if isinstance(event_types, str) or not hasattr(event_types, "__iter__"):
        raise ValidationError("Event types must be a list.", code="invalid_events")
    wanted = sorted({str(e) for e in event_types})
    if wanted == ["*"]:
        return []
    unknown = [e for e in wanted if e not in CATALOGUE]
    if unknown:
        raise ValidationError(
            "Unknown event type%s: %s." % ("s" if len(unknown) > 1 else "", ", ".join(unknown)),
            code="unknown_event_type",
        )
    return wanted


def _locked(endpoint) -> WebhookEndpoint:
    pk = endpoint.pk if isinstance(endpoint, WebhookEndpoint) else endpoint
    found = WebhookEndpoint.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound("No such webhook endpoint.")
    return found


@service
def endpoint_create(
    *, actor, url: str, description: str = "", event_types=None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned this once)."""
    action = events.ENDPOINT_CREATED
    policies.check_can_manage_webhooks(actor, action=action)
    url = validate_url(url)
    event_types = validate_event_types(event_types)
    secret = new_secret()
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        description=(description or "")[:500],
        event_types=event_types,
        secret=seal(secret),
        created_by=as_actor(actor).user,
        created_at=now,
        updated_at=now,
    )
    audit.record(
        action,
        actor=actor,
        target=endpoint_target(endpoint),
        changes={"url": [None, url], "event_types": [None, event_types or ["*"]]},
    )
    return endpoint, secret


@service
def endpoint_update(
    *, actor, endpoint, url=None, description=None, event_types=None, enabled=None
) -> WebhookEndpoint:
    action = events.ENDPOINT_UPDATED
    endpoint = _locked(endpoint)
    policies.check_can_manage_webhooks(actor, action=action, target=endpoint_target(endpoint))
    wanted = {}
    if url is not None:
        wanted["url"] = validate_url(url)
    if description is not None:
        wanted["description"] = description[:500]
    if event_types is not None:
        wanted["event_types"] = validate_event_types(event_types)
    if enabled is not None:
        wanted["enabled"] = bool(enabled)
    changes = {k: [getattr(endpoint, k), v] for k, v in wanted.items() if getattr(endpoint, k) != v}
    if not changes:
        return endpoint
    for field, (_, new) in changes.items():
        setattr(endpoint, field, new)
    fields = [*changes, "updated_at"]
    if changes.get("enabled") == [False, True]:
        endpoint.failure_streak = 0
        endpoint.disabled_reason = ""
        fields += ["failure_streak", "disabled_reason"]
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=fields)
    audit.record(action, actor=actor, target=endpoint_target(endpoint), changes=changes)
    return endpoint


@service
def endpoint_delete(*, actor, endpoint) -> None:
    """Remove the endpoint and its delivery log (audited first, while it
    still exists)."""
    action = events.ENDPOINT_DELETED
    endpoint = _locked(endpoint)
    policies.check_can_manage_webhooks(actor, action=action, target=endpoint_target(endpoint))
    audit.record(action, actor=actor, target=endpoint_target(endpoint))
    endpoint.delete()


@service
def endpoint_rotate_secret(*, actor, endpoint) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned this once); the old one keeps signing beside
    it for WEBHOOKS_ROTATION_OVERLAP, so receivers can switch over."""
    action = events.ENDPOINT_SECRET_ROTATED
    endpoint = _locked(endpoint)
    policies.check_can_manage_webhooks(actor, action=action, target=endpoint_target(endpoint))
    secret = new_secret()
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + settings.WEBHOOKS_ROTATION_OVERLAP
    endpoint.secret = seal(secret)
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    audit.record(
        action,
        actor=actor,
        target=endpoint_target(endpoint),
        changes={"previous_secret_signs_until": endpoint.previous_secret_expires_at.isoformat()},
    )
    return endpoint, secret


@service
def endpoint_send_test(*, actor, endpoint) -> WebhookEndpoint:
    """Send a `webhook.test` event to this endpoint only: its audit event
    makes the delivery (webhooks.services.deliveries), like every other."""
    endpoint = _locked(endpoint)
    policies.check_can_manage_webhooks(actor, action=TESTED, target=endpoint_target(endpoint))
    if not endpoint.enabled:
        raise ValidationError("The endpoint is disabled; enable it first.", code="disabled")
    audit.record(TESTED, actor=actor, target=endpoint_target(endpoint))
    return endpoint


@service
def delivery_replay(*, actor, endpoint, delivery_id) -> WebhookDelivery:
    """Send a delivery again, with the same `webhook-id`, sequence and body
    (a receiver that saw it drops it by id; one that missed it fills its
    gap), and a fresh attempt budget."""
    action = events.DELIVERY_REPLAYED
    endpoint = _locked(endpoint)
    policies.check_can_manage_webhooks(actor, action=action, target=endpoint_target(endpoint))
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .filter(pk=delivery_id, endpoint=endpoint)
        .first()
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    if not endpoint.enabled:
        raise ValidationError("The endpoint is disabled; enable it first.", code="disabled")
    before = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit.record(
        action,
        actor=actor,
        target=endpoint_target(endpoint),
        changes={
            "delivery": delivery.webhook_id,
            "sequence": delivery.sequence,
            "status": [before, "pending"],
        },
    )
    transaction.on_commit(lambda: delivery_enqueue(delivery.pk))
    return delivery
