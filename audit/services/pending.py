"""Audit events that must not wait for the chain's lock (issue 28, F3).

Sign-in is a write: it records `accounts.login.succeeded`. With the chain's
lock held by a stuck writer, every sign-in used to wait AUDIT_LOCK_TIMEOUT_MS
and then fail 503, so nobody could sign in. `record_without_waiting` takes
the lock only if it is free at once; otherwise the event -- built and
final, with its time -- is written to `PendingEvent` in the caller's
transaction (it commits or rolls back with the sign-in), and after commit a
worker is woken to link it in. `drain_pending` links pending events into
the chain in time order under the lock (waiting for it as any writer does)
and deletes them in the same transaction: nothing is lost, nothing is
chained twice, and `verify_chain` holds throughout. Until it runs (seconds:
the wake-up, and beat every AUDIT_PENDING_DRAIN_SECONDS as a backstop) the
audit log does not show the event; its id then comes after events recorded
meanwhile, its `created_at` is the moment it happened.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from audit import context
from audit.figures import figures_changed
from audit.models import AuditEvent, Outcome, PendingEvent
from audit.services.hashing import HASHED_FIELDS, _lock_chain, compute_hash, try_lock_chain
from audit.services.record import EventSpec, _build, _deferred, _write, record_many
from core.tasks import wake

logger = logging.getLogger(__name__)


def record_without_waiting(
    action: str,
    *,
    actor=None,
    target=None,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    changes: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """`audit.record` for paths that must not wait on the chain's lock:
    chained now when the lock is free, else pending (see the module)."""
    spec = EventSpec(
        action=action,
        actor=actor,
        target=target,
        outcome=outcome,
        reason=reason,
        changes=changes or {},
        actor_label=actor_label,
    )
    if _deferred.get() is not None:  # a batch collects its events: one write at its end
        return record_many([spec])[0]
    with transaction.atomic():
        if try_lock_chain():
            return _write([spec])[0]
        event = _build(spec, context.current(), timezone.now())
        PendingEvent.objects.create(
            created_at=event.created_at,
            fields={name: _json(getattr(event, name)) for name in HASHED_FIELDS[1:]},
        )
        transaction.on_commit(_wake_drain, robust=True)
        return event


def _json(value):
    return str(value) if value is not None and not isinstance(value, str | dict | list) else value


def _wake_drain() -> None:
    try:
        wake("audit.tasks.audit_drain_pending")
    except Exception as exc:  # beat drains it anyway
        logger.warning("could not wake the audit drain (%s); beat will", exc)


def drain_pending(*, wait: bool = True, limit: int = 500) -> int:
    """Link up to `limit` pending events into the chain, oldest first, and
    delete them, in one transaction. `wait=False` gives up at once (0)
    when the chain's lock is taken; otherwise the wait is bounded by
    AUDIT_LOCK_TIMEOUT_MS (ServiceBusy). Returns how many were linked."""
    with transaction.atomic():
        if not wait and not try_lock_chain():
            return 0
        prev = _lock_chain()
        rows = list(
            PendingEvent.objects.select_for_update(skip_locked=True).order_by("created_at", "id")[
                :limit
            ]
        )
        if not rows:
            return 0
        events = []
        for row in rows:
            event = AuditEvent(created_at=row.created_at, **row.fields)
            event.prev_hash = prev
            event.hash = compute_hash(event, prev)
            prev = event.hash
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        PendingEvent.objects.filter(pk__in=[row.pk for row in rows]).delete()
        changed = {e.action for e in events if e.outcome == Outcome.SUCCESS}
        transaction.on_commit(lambda: figures_changed(changed), robust=True)
    return len(events)
