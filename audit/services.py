"""Writing the audit log.

`record` is called by services inside their own transaction, so the event
commits or rolls back with the change it describes. Each event carries a
SHA-256 hash chained to the previous event; writers take a transaction-level
lock first so concurrent transactions cannot fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from audit import context
from audit.models import AuditEvent, Outcome

# Keys whose values are never written to the log, at any depth.
SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|key_hash|token_hash|otp|totp|recovery|code)",
    re.I,
)
REDACTED = "[redacted]"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")
# Any constant works; it names the audit chain's advisory lock.
_CHAIN_LOCK_ID = 0x48414E44  # "HAND"


def clean_label(value, limit: int = 300) -> str:
    """Neutralise log injection: control characters (CR, LF, ...) become a
    visible escape, so one event is always one line wherever it is shown."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 256 else "?", text)
    return text[:limit]


def scrub(value):
    """Redact secret-looking keys in a changes payload, recursively."""
    if isinstance(value, dict):
        return {
            clean_label(k, 100): (REDACTED if SECRET_KEYS.search(str(k)) else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass
class Target:
    type: str
    id: str
    label: str

    @classmethod
    def of(cls, obj) -> Target | None:
        if obj is None:
            return None
        if isinstance(obj, Target):
            return obj
        label = getattr(obj, "email", None) or getattr(obj, "name", None) or str(obj)
        return cls(type=obj._meta.model_name, id=str(obj.pk), label=str(label))


@dataclass
class EventSpec:
    action: str
    actor: object = None
    target: object = None
    outcome: str = Outcome.SUCCESS
    reason: str = ""
    changes: dict = field(default_factory=dict)
    batch_id: uuid.UUID | None = None
    actor_label: str | None = None


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "created_at": event.created_at.isoformat(),
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target_label": event.target_label,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "batch_id": str(event.batch_id) if event.batch_id else None,
        "reason": event.reason,
        "outcome": event.outcome,
        "changes": event.changes,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + _canonical(event)).hexdigest()


def _lock_chain() -> str:
    """Serialise chain writers and return the hash to chain from."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or ""


def _build(spec: EventSpec, ctx: context.RequestContext, now) -> AuditEvent:
    actor = spec.actor
    target = Target.of(spec.target)
    if spec.actor_label is not None:
        actor_label = spec.actor_label
    elif actor is not None:
        actor_label = getattr(actor, "email", None) or str(actor)
    else:
        actor_label = "system"
    return AuditEvent(
        created_at=now,
        actor_id=getattr(actor, "pk", None),
        actor_label=clean_label(actor_label),
        action=spec.action,
        target_type=target.type if target else "",
        target_id=target.id if target else "",
        target_label=clean_label(target.label) if target else "",
        ip=ctx.ip,
        user_agent=clean_label(ctx.user_agent, 500),
        request_id=ctx.request_id,
        batch_id=spec.batch_id,
        reason=clean_label(spec.reason, 2000),
        outcome=spec.outcome,
        changes=scrub(spec.changes or {}),
    )


@transaction.atomic
def record_many(specs: Iterable[EventSpec]) -> list[AuditEvent]:
    """Write several events in one insert (batch actions), chained in order."""
    specs = list(specs)
    if not specs:
        return []
    ctx = context.current()
    now = timezone.now()
    prev = _lock_chain()
    events = []
    for spec in specs:
        event = _build(spec, ctx, now)
        event.prev_hash = prev
        event.hash = compute_hash(event, prev)
        prev = event.hash
        events.append(event)
    return AuditEvent.objects.bulk_create(events)


def record(
    action: str,
    *,
    actor=None,
    target=None,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    changes: dict | None = None,
    batch_id: uuid.UUID | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Record one event in the caller's transaction (or its own)."""
    return record_many(
        [
            EventSpec(
                action=action,
                actor=actor,
                target=target,
                outcome=outcome,
                reason=reason,
                changes=changes or {},
                batch_id=batch_id,
                actor_label=actor_label,
            )
        ]
    )[0]
