"""Writing audit events: `record` and `record_many` in the caller's
transaction, `deferred` for a batch's loop of single actions, and the
scrubbing of secrets and control characters from what is written."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import context
from audit.events import EVENT_TYPES
from audit.figures import figures_changed
from audit.models import AuditEvent, Outcome, Target
from audit.services.sealer import nudge
from core.compiled import Inserted

logger = logging.getLogger(__name__)

# Keys whose values are never written to the log, at any depth.
SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|key_hash|token_hash|otp|totp|recovery|code)",
    re.I,
)
REDACTED = "[redacted]"
# C0/C1 controls, line/paragraph separators and bidi overrides (which can
# make a label display as something else).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def clean_label(value, limit: int = 300) -> str:
    """Neutralise log injection: control characters (CR, LF, ...) become a
    visible escape, so one event is always one line wherever it is shown."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 256 else "?", text)
    return text[:limit]


# Beyond this depth a changes payload is cut off: validated input never
# nests this deep, and the scrubber must not recurse without bound on
# whatever a caller passes.
SCRUB_MAX_DEPTH = 32
TOO_DEEP = "[nested too deep]"


def scrub(value, _depth: int = 0):
    """Redact secret-looking keys in a changes payload, recursively (at most
    SCRUB_MAX_DEPTH levels; anything deeper becomes TOO_DEEP)."""
    if isinstance(value, dict | list | tuple) and _depth >= SCRUB_MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            clean_label(k, 100): (REDACTED if SECRET_KEYS.search(str(k)) else scrub(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v, _depth + 1) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


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
    # The organization the event happened in (an object or an id); None:
    # the target's own (an organization, an invitation into one), if any.
    organization: object = None


def _check_event_type(action: str) -> None:
    """Every event type has a sentence (`audit.events`): strict in tests, a
    logged error in production, where a missing wording never blocks a write."""
    if action in EVENT_TYPES or action.startswith(
        tuple(getattr(settings, "AUDIT_EXTRA_EVENT_PREFIXES", ()))
    ):
        return
    if getattr(settings, "AUDIT_STRICT_EVENT_TYPES", False):
        raise ValueError(f"audit event type {action!r} has no sentence in audit/events.py")
    logger.error("audit event type %r has no sentence in audit/events.py", action)


def _person(value):
    """The person an `rbac.actor.Actor` acts as (`.user`); anything else as
    it is."""
    return value.user if hasattr(value, "credential") else value


def _credential(actor) -> dict | None:
    """Which API key an actor acts through -- its id and name, never the
    key -- for the row's `changes["credential"]`; None for anything else."""
    credential = getattr(actor, "credential", None)
    if credential is None or not credential.is_api_key:
        return None
    return {"type": "api_key", "id": str(credential.key_id), "name": credential.key_name}


def _build(spec: EventSpec, ctx: context.RequestContext, now) -> AuditEvent:
    _check_event_type(spec.action)
    changes = spec.changes or {}
    credential = _credential(spec.actor)
    if credential is not None:
        changes = {**changes, "credential": credential}
    actor = _person(spec.actor)
    target = Target.of(_person(spec.target))
    if spec.actor_label is not None:
        actor_label = spec.actor_label
    elif actor is not None:
        actor_label = getattr(actor, "email", None) or str(actor)
    else:
        actor_label = "system"
    # Viewing as someone (impersonation): the actor stays the person who
    # acts; the one they view as is named beside them.
    acting_for = getattr(spec.actor, "acting_for", None)
    organization = spec.organization
    org_id = getattr(organization, "pk", organization)
    if org_id is None and target is not None:
        org_id = target.organization_id
    return AuditEvent(
        created_at=now,
        actor_id=getattr(actor, "pk", None),
        actor_label=clean_label(actor_label),
        acting_for_id=getattr(acting_for, "pk", None),
        acting_for_label=clean_label(getattr(acting_for, "email", "")) if acting_for else "",
        organization_id=org_id,
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
        changes=scrub(changes),
    )


# Inside `deferred()`: the events recorded so far, written when it ends.
_deferred: ContextVar[list | None] = ContextVar("audit_deferred", default=None)


@contextmanager
def deferred():
    """Collect the events recorded inside the block and write them, in the
    same order and chain, in one insert when it ends -- in the caller's
    transaction, which must enclose the block (a batch's loop of single
    actions). Events are returned unsaved (no id) meanwhile. An exception
    leaving the block discards them with the transaction."""
    if _deferred.get() is not None:  # already collecting: one flush, outermost
        yield
        return
    token = _deferred.set([])
    try:
        yield
        pending = _deferred.get()
    finally:
        _deferred.reset(token)
    _write(pending)


def record_many(specs: Iterable[EventSpec]) -> list[AuditEvent]:
    """Write several events in one insert (batch actions); the sealer
    chains them in this order."""
    specs = list(specs)
    if not specs:
        return []
    pending = _deferred.get()
    if pending is not None:
        pending.extend(specs)
        ctx = context.current()
        now = timezone.now()
        return [_build(spec, ctx, now) for spec in specs]
    return _write(specs)


@transaction.atomic(savepoint=False)
def _write(specs: list[EventSpec]) -> list[AuditEvent]:
    """Insert the events unsealed -- no lock, no read of the chain -- and
    have the sealer link them once this transaction commits
    (audit.services.sealer). Inside a caller's transaction no savepoint of
    its own (two round trips an audited write): an event that cannot be
    written fails the change it describes, never just itself."""
    if not specs:
        return []
    ctx = context.current()
    now = timezone.now()
    events = [_build(spec, ctx, now) for spec in specs]
    if len(events) == 1:
        created = [_insert_one(events[0])]  # an audited write's one event
    else:
        created = AuditEvent.objects.bulk_create(events)
    nudge()
    for subscriber in _subscribers:
        subscriber(created)
    changed = {e.action for e in events if e.outcome == Outcome.SUCCESS}
    if changed:
        # The overview's cached figures go stale the moment this commits.
        transaction.on_commit(lambda: figures_changed(changed), robust=True)
    return created


# One event's INSERT, its text written by the ORM once (`core.compiled`).
_insert_one = Inserted(AuditEvent)


# Called with the events just written, inside the writing transaction (so
# what they write commits or rolls back with the events). Registered at
# start-up by the apps that follow the log (webhooks), so this module
# imports none of them.
_subscribers: list = []


def subscribe(callback) -> None:
    """Have `callback(events)` called with every list of events written."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def record_denial(denial) -> AuditEvent:
    """Put a guard's refusal (`core.services.PolicyDenied`) on the record:
    outcome denied, the reason as "code: message", the missing permissions."""
    return record(
        denial.action or "rbac.denied",
        actor=denial.actor,
        target=denial.target,
        outcome=Outcome.DENIED,
        reason=f"{denial.code}: {denial.message}",
        changes={"missing": denial.missing} if denial.missing else {},
        batch_id=denial.batch_id,
    )


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
    organization=None,
) -> AuditEvent:
    """Record one event in the caller's transaction (or its own).
    `organization`: the one it happened in, when the target does not say
    (a member added to it, a role held there)."""
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
                organization=organization,
            )
        ]
    )[0]
