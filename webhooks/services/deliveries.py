"""Deliveries: written with the audit events they carry, numbered and
sent once those events are sealed into the audit chain.

`deliveries_for_events` runs inside the audit writer's transaction (it is
subscribed to `audit.services.record`): the row, with the event's `data`
as the change left it, commits or rolls back with the change. It has no
sequence number and no chain hash yet -- the event is not sealed -- and is
not sent. `deliveries_sealed` runs inside the sealer's transaction (it is
subscribed to `audit.services.on_sealed`), with the events in chain order:
it gives each delivery the event's chain hash and its endpoint's next
sequence number (the highest one so far, plus one; the sealer is single
flight, so no endpoint row is locked), completes the body, and queues it
after that commit. A delivery's `sequence` set means "sealed, may be
sent": the sender sees no other (`_Deliveries.queryset`).

`delivery_deliver` (the Celery task's body) is the loop the email outbox
shares (`core.leased`): claim the row under lock with a sending lease,
POST with no transaction open, record the outcome. A redelivered
task finds the row delivered or leased and does nothing; a worker killed
mid-request leaves the lease, and `delivery_sweep` queues the row again
once it has run out -- the at-least-once case, carrying the same
`webhook-id` for the receiver to de-duplicate.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.services.emails import email_queue
from accounts.services.sealing import unseal
from audit import services as audit
from audit.models import Outcome as AuditOutcome
from core.compiled import Compiled
from core.leased import Attempt, LeasedSender, Outcome, no_channel
from webhooks import net
from webhooks.catalogue import CATALOGUE, TEST_EVENT
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

TESTED = "webhooks.endpoint.tested"


def _body(event_type: str, event, data: dict, sequence: int | None) -> str:
    return _dumps(
        {
            "type": event_type,
            "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
            "data": data,
            # Order and gaps: a receiver expects `sequence` to grow by one per
            # delivery to it; `audit` ties the event to the audit chain.
            "sequence": sequence,
            "audit": {"event_id": event.pk, "hash": event.hash},
        }
    )


def _dumps(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


# Asked with every audited change: its SQL is the ORM's, written once
# (core.compiled; compiling it was most of what it cost).
_enabled_endpoints = Compiled(lambda: WebhookEndpoint.objects.filter(enabled=True))


def deliveries_for_events(events, *, data_for) -> list[WebhookDelivery]:
    """Write a delivery for each successful event in the catalogue and each
    enabled endpoint that wants it (and one test event for an endpoint
    asked to send one). Called in the audit writer's transaction; the rows
    are numbered and queued once the events are sealed
    (`deliveries_sealed`), so a rolled-back change sends nothing.
    `data_for(events)` gives each event's `data`, as {event pk: data}."""
    events = [
        e
        for e in events
        if e.outcome == AuditOutcome.SUCCESS and (e.action in CATALOGUE or e.action == TESTED)
    ]
    if not events:
        return []
    endpoints = list(_enabled_endpoints())
    plan: list[tuple[WebhookEndpoint, str, object]] = []
    for event in events:
        if event.action == TESTED:
            plan.extend(
                (ep, TEST_EVENT, event) for ep in endpoints if str(ep.pk) == event.target_id
            )
        else:
            plan.extend((ep, event.action, event) for ep in endpoints if ep.wants(event.action))
    if not plan:
        return []
    data_of = data_for(list({e.pk: e for _, t, e in plan if t != TEST_EVENT}.values()))
    rows = []
    for endpoint, event_type, event in plan:
        if event_type == TEST_EVENT:
            data = {"object": "webhook_endpoint", "id": str(endpoint.pk), "test": True}
        else:
            data = data_of[event.pk]
        rows.append(
            WebhookDelivery(
                endpoint=endpoint,
                event_type=event_type,
                payload=_body(event_type, event, data, None),
                webhook_id=f"msg_{uuid.uuid4().hex}",
                audit_event_id=event.pk,
                sequence=None,
                created_at=event.created_at,
                next_attempt_at=event.created_at,
            )
        )
    return WebhookDelivery.objects.bulk_create(rows)


def deliveries_sealed(events) -> list[int]:
    """The sealer sealed `events` (in chain order, in its transaction):
    their deliveries get the chain hash and their endpoint's next sequence
    number, in that order, and are queued after the sealer commits.
    Returns the deliveries' ids."""
    place = {e.pk: (e.seq, e.hash) for e in events}
    rows = list(
        WebhookDelivery.objects.filter(audit_event_id__in=place, sequence__isnull=True).order_by(
            "id"
        )
    )
    if not rows:
        return []
    rows.sort(key=lambda row: (place[row.audit_event_id][0], row.pk))
    last = dict(
        WebhookDelivery.objects.filter(endpoint__in={row.endpoint_id for row in rows})
        .values("endpoint")
        .annotate(last=Max("sequence"))
        .values_list("endpoint", "last")
    )
    for row in rows:
        row.sequence = (last.get(row.endpoint_id) or 0) + 1
        last[row.endpoint_id] = row.sequence
        row.audit_hash = place[row.audit_event_id][1]
        body = json.loads(row.payload)
        body["sequence"] = row.sequence
        body["audit"] = {"event_id": row.audit_event_id, "hash": row.audit_hash}
        row.payload = _dumps(body)
    WebhookDelivery.objects.bulk_update(rows, ["sequence", "audit_hash", "payload"])
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: [delivery_enqueue(pk) for pk in ids])
    return ids


def delivery_enqueue(delivery_id) -> bool:
    """Hand one delivery to the broker; a broker outage leaves the row for
    the sweep."""
    return SENDER.enqueue(delivery_id)


# --- sending ------------------------------------------------------------------


def retry_schedule() -> list[float]:
    """Seconds to wait before each retry: the Standard Webhooks schedule
    (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day)."""
    return list(settings.WEBHOOKS_RETRY_SCHEDULE)


def signature_headers(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now) -> dict:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,`
    signature per secret that signs: two during a rotation), signed by
    `standardwebhooks`."""
    body = delivery.payload.encode()
    signatures = [
        Webhook(unseal(secret)).sign(msg_id=delivery.webhook_id, timestamp=now, data=body)
        for secret in endpoint.signing_secrets(now)
    ]
    return {
        "content-type": "application/json",
        "user-agent": "Handover-Webhooks/1",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
        "webhook-sequence": str(delivery.sequence),
    }


def _post(delivery: WebhookDelivery) -> Outcome:
    """POST one delivery (a fresh, SSRF-checked connection: `net.post`)."""
    endpoint = delivery.endpoint
    now = timezone.now()
    try:
        answer = net.post(
            endpoint.url, delivery.payload.encode(), signature_headers(delivery, endpoint, now)
        )
    except net.UnsafeURL as exc:
        return _failed(delivery, f"Refused: {exc}", permanent=True)
    fields = {
        "response_code": answer.status,
        "duration_ms": answer.duration_ms,
        "response_excerpt": answer.excerpt[: settings.WEBHOOKS_EXCERPT_BYTES],
    }
    if 200 <= answer.status < 300:
        return Outcome(
            {
                "status": DeliveryStatus.DELIVERED,
                "delivered_at": timezone.now(),
                "last_error": "",
                **fields,
            },
            then=lambda: WebhookEndpoint.objects.filter(
                pk=endpoint.pk, failure_streak__gt=0
            ).update(failure_streak=0),
        )
    return _failed(delivery, f"The receiver answered {answer.status}.", **fields)


def _failed(delivery: WebhookDelivery, error: str, *, permanent=False, **fields) -> Outcome:
    """A failed attempt: retry on the schedule, or fail for good (and count
    it against the endpoint once that is written)."""
    schedule = retry_schedule()
    if not permanent and delivery.attempts <= len(schedule):
        retry_in = float(schedule[delivery.attempts - 1])
        return Outcome(
            {
                "last_error": error[:500],
                "next_attempt_at": timezone.now() + timedelta(seconds=retry_in),
                **fields,
            },
            retry_in,
        )
    return Outcome(
        {"status": DeliveryStatus.FAILED, "last_error": error[:500], **fields},
        then=lambda: _count_failure(delivery.endpoint_id),
    )


class _Deliveries(LeasedSender):
    """Deliveries under `core.leased`, one a task (each POST is its own
    checked connection to its own endpoint)."""

    model = WebhookDelivery
    task = "webhooks.tasks.webhook_send"
    noun = "webhook delivery"

    @property
    def lease(self):
        return settings.WEBHOOKS_SENDING_LEASE

    @property
    def attempt_bound(self):
        return 3 * settings.WEBHOOKS_TIMEOUT_SECONDS  # resolve, connect, answer

    @property
    def sweep_after(self):
        return settings.WEBHOOKS_SWEEP_AFTER

    def queryset(self):
        # Sealed only: a delivery whose audit event is not sealed yet has no
        # sequence or chain hash, and is queued once it has.
        return WebhookDelivery.objects.select_related("endpoint").filter(sequence__isnull=False)

    def refusal(self, delivery):
        if delivery.endpoint.enabled:
            return None
        return {"status": DeliveryStatus.FAILED, "last_error": "The endpoint is disabled."}

    def channel(self):
        return no_channel(_post)

    def failure(self, delivery, exc):
        return _failed(delivery, f"{exc.__class__.__name__}: {exc}")


SENDER = _Deliveries()


def delivery_deliver(delivery_id) -> Attempt:
    """Send one pending delivery (see the module's docstring)."""
    return SENDER.deliver(delivery_id).first


DISABLED = "webhooks.endpoint.disabled"


@transaction.atomic
def _count_failure(endpoint_id) -> None:
    """One more delivery failed for good: at WEBHOOKS_DISABLE_AFTER in a row
    the endpoint is disabled (audited, by the system) and the person who
    made it is told by email."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    endpoint.failure_streak += 1
    fields = ["failure_streak"]
    disable = endpoint.enabled and endpoint.failure_streak >= settings.WEBHOOKS_DISABLE_AFTER
    if disable:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"Disabled after {endpoint.failure_streak} deliveries in a row failed."
        )
        endpoint.updated_at = timezone.now()
        fields += ["enabled", "disabled_reason", "updated_at"]
    endpoint.save(update_fields=fields)
    if not disable:
        return
    audit.record(
        DISABLED,
        actor=None,
        actor_label="system",
        target=endpoint_target(endpoint),
        changes={"enabled": [True, False]},
        reason=endpoint.disabled_reason,
    )
    owner = endpoint.created_by
    if owner is not None and owner.is_active and owner.email:
        email_queue(
            to=owner.email,
            template="webhook_disabled",
            context={"user": owner, "endpoint": endpoint},
            user=owner,
        )


def endpoint_target(endpoint: WebhookEndpoint):
    return audit.Target(type="webhook_endpoint", id=str(endpoint.pk), label=endpoint.url[:300])


def delivery_sweep(*, limit: int = 500) -> int:
    """Queue again the pending deliveries whose attempt is overdue by more
    than WEBHOOKS_SWEEP_AFTER (task lost: broker down, worker killed)."""
    return SENDER.sweep(limit=limit)
