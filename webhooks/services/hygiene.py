"""What stored deliveries may keep, and for how long.

- Retention: `delivery_prune` (beat, daily) removes the settled deliveries
  older than WEBHOOKS_RETENTION_DAYS. Each endpoint's latest delivery is
  kept whatever its age: the next sequence number is the highest stored
  one plus one, and a receiver counts on it never going back.
- Erasure: when a deleted user's personal data is scrubbed from the audit
  log (`audit.services.audit_scrub_user`, which writes `audit.user.scrubbed`
  in its transaction), `deliveries_scrub_for_events` -- subscribed to the
  audit writer -- scrubs it from the stored delivery payloads in the same
  transaction: the user objects about them lose their email, name and
  phone, and those values are replaced wherever else a payload holds them.
  A replay then sends the scrubbed body.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from audit import services as audit
from audit.models import Outcome
from audit.services.erasure import SCRUBBED
from audit.services.hashing import SCRUBBED_ACTION
from webhooks.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

PRUNED = "webhooks.deliveries.pruned"
_PERSONAL_KEYS = ("email", "name", "phone", "label")


def delivery_prune(*, now=None) -> int:
    """Remove the delivered and failed deliveries older than
    WEBHOOKS_RETENTION_DAYS (0: keep them all), except each endpoint's
    latest. Audited (by the system) when something was removed. Returns
    how many were."""
    days = settings.WEBHOOKS_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # The latest numbered one (the sealer numbers deliveries as their audit
    # events are sealed; a newer row may not have a number yet).
    latest = (
        WebhookDelivery.objects.filter(sequence__isnull=False)
        .values("endpoint")
        .annotate(last=Max("id"))
        .values("last")
    )
    removed, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff)
        .exclude(status=DeliveryStatus.PENDING)
        .exclude(pk__in=latest)
        .delete()
    )
    if removed:
        audit.record(
            PRUNED,
            actor=None,
            actor_label="system",
            changes={"removed": removed, "before": cutoff.isoformat(), "days": days},
        )
    return removed


def deliveries_scrub_for_events(events) -> int:
    """The audit writer's subscriber: for each user scrub it writes, scrub
    the stored payloads too (see the module's docstring)."""
    scrubbed = 0
    for event in events:
        if event.action == SCRUBBED_ACTION and event.outcome == Outcome.SUCCESS:
            rows = (event.changes or {}).get("rows") or {}
            scrubbed += deliveries_scrub_user(
                event.target_id, audit_event_ids=[int(pk) for pk in rows]
            )
    return scrubbed


def deliveries_scrub_user(user_id: str, *, audit_event_ids=()) -> int:
    """Scrub the user's personal data from every stored payload that holds
    it. Returns how many deliveries were rewritten."""
    user_id = str(user_id)
    personal: set[str] = set()
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        personal.update(v for v in (user.email, user.name, user.phone) if v)
    about = Q(audit_event_id__in=list(audit_event_ids)) | Q(payload__contains=f'"{user_id}"')
    for row in WebhookDelivery.objects.filter(about).only("payload").iterator(chunk_size=500):
        personal.update(_personal_in(json.loads(row.payload), user_id))
    personal = {v for v in personal if len(v) >= 3 and v != SCRUBBED}
    candidates = about
    for value in personal:
        candidates |= Q(payload__contains=json.dumps(value)[1:-1])
    rewritten = 0
    for row in WebhookDelivery.objects.filter(candidates).only("payload").iterator(chunk_size=500):
        body = json.loads(row.payload)
        clean = _scrubbed(body, user_id, personal)
        if clean != body:
            payload = json.dumps(clean, separators=(",", ":"), sort_keys=True)
            WebhookDelivery.objects.filter(pk=row.pk).update(payload=payload)
            rewritten += 1
    if rewritten:
        logger.info("scrubbed user %s from %s webhook deliveries", user_id[:8], rewritten)
    return rewritten


def _is_the_user(value, user_id: str) -> bool:
    return isinstance(value, dict) and str(value.get("id", "")) == user_id


def _personal_in(value, user_id: str):
    """The personal values the payload's objects about the user hold."""
    if isinstance(value, dict):
        if _is_the_user(value, user_id):
            yield from (v for k in _PERSONAL_KEYS if isinstance(v := value.get(k), str) and v)
        for v in value.values():
            yield from _personal_in(v, user_id)
    elif isinstance(value, list):
        for v in value:
            yield from _personal_in(v, user_id)


def _scrubbed(value, user_id: str, personal: set[str]):
    if isinstance(value, dict):
        out = {k: _scrubbed(v, user_id, personal) for k, v in value.items()}
        if _is_the_user(value, user_id):
            for key in _PERSONAL_KEYS:
                if out.get(key):
                    out[key] = SCRUBBED
        return out
    if isinstance(value, list):
        return [_scrubbed(v, user_id, personal) for v in value]
    if isinstance(value, str) and value:
        if value in personal:
            return SCRUBBED
        for secret in sorted(personal, key=len, reverse=True):
            if len(secret) >= 6:  # shorter ones only whole: "Ana" is in "Banana"
                value = value.replace(secret, SCRUBBED)
    return value
