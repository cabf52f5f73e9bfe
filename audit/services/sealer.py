"""The sealer: links committed audit events into the hash chain, off the
request path (issue 29).

Writers (`audit.record`) insert their events with empty chain columns in
their own transaction and take no lock: the event commits or rolls back
with the change it describes, and nobody waits on anybody else's event --
sign-in included (issue 28, F3). The sealer then gives each committed event
its place (`seq`), the previous event's hash (`prev_hash`) and its own
(`hash`, the same HMAC as always, so `verify_chain` checks sealed events
exactly as before, walking `seq` order).

Order -- why nothing can be appended out of order. Ids are handed out when
a row is inserted, not when its transaction commits: under concurrency an
event with a lower id may commit after one with a higher id (or never).
So the chain is not in id order; it is in *sealing* order, recorded in
`seq`, and that order is built only from what has committed:

- One sealer at a time: a run holds the chain's advisory lock for its
  transaction (`lock_chain`), which no writer ever takes. Retention and
  erasure, which also change the chain, take it too.
- A run reads the unsealed events its statement can see. Under READ
  COMMITTED that is exactly the events whose transactions have committed;
  an event whose transaction is still open (or rolled back) is invisible.
- It appends what it saw after the chain's tail, in id order among
  themselves, and commits. An event that commits later is seen by a later
  run and appended after everything sealed before -- a lower id simply gets
  a higher `seq`. No event is ever placed before one already sealed, and
  `seq` is unique, so two runs cannot fork the chain either.

Why not a horizon on ids (seal only ids below the oldest open
transaction's, via pg_snapshot/xmin): a sequence value is drawn before the
inserting transaction has an xid, so a snapshot can miss the one that will
commit a lower id; and any long transaction anywhere would hold back every
event behind it. Sealing what is visible needs neither: a transaction open
for minutes holds back only its own events.

When it runs: after a commit that wrote events, a nudge queues the
`audit.tasks.audit_seal` task, to start AUDIT_SEAL_DELAY_MS later so that
one run seals what commits meanwhile -- at most one queued at a time (a
cache flag, cleared by the task before it reads, so an event committed
after the clear brings a new nudge) -- and beat runs it every
AUDIT_SEAL_SECONDS as the backstop. In a worker the task waits (bounded)
for the lock; run inline (eager, no broker) it runs at once and never
waits. Until then the event is in the log and shown as "pending";
`unsealed()` says how many and how old.

AUDIT_CHAIN_ENABLED=False writes events and never seals them: the
benchmark's baseline (benchmarks/audit_writes.py), nothing else.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Min

from audit.models import AuditEvent
from audit.services.hashing import HASHED_FIELDS, _bypass, chain_tail, compute_hash, lock_chain
from core.tasks import wake

logger = logging.getLogger(__name__)

NUDGE_KEY = "audit:seal-nudged"
_READ_FIELDS = ("id", *HASHED_FIELDS)

# Called with the events just sealed (in `seq` order), inside the sealing
# transaction. Registered at start-up by the apps that carry chain hashes
# (webhooks), so this module imports none of them.
_sealed_subscribers: list = []


def on_sealed(callback) -> None:
    """Have `callback(events)` called with every list of events sealed."""
    if callback not in _sealed_subscribers:
        _sealed_subscribers.append(callback)


def chain_enabled() -> bool:
    return getattr(settings, "AUDIT_CHAIN_ENABLED", True)


def seal(*, wait: bool = False, batch: int = 1000, max_batches: int = 100) -> int:
    """Seal every committed unsealed event, `batch` per transaction.
    `wait=False` gives up at once (0) when another sealer holds the lock;
    `wait=True` waits at most AUDIT_LOCK_TIMEOUT_MS (`ServiceBusy`).
    Returns how many were sealed."""
    if not chain_enabled():
        return 0
    total = 0
    for _ in range(max_batches):
        sealed = _seal_batch(wait=wait, limit=batch)
        total += sealed
        if sealed < batch:
            break
    return total


@transaction.atomic
def _seal_batch(*, wait: bool, limit: int) -> int:
    if not lock_chain(wait=wait):
        return 0
    rows = (
        AuditEvent.objects.filter(seq__isnull=True, hash="")
        .order_by("id")
        .values_list(*_READ_FIELDS)[:limit]
    )
    events = [AuditEvent(**dict(zip(_READ_FIELDS, values, strict=True))) for values in rows]
    if not events:
        return 0
    seq, prev = chain_tail()
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = prev = compute_hash(event, prev)
    _store(events)
    for subscriber in _sealed_subscribers:
        subscriber(events)
    return len(events)


def _store(events: list[AuditEvent]) -> None:
    """Write the chain columns of `events` in one statement, under the
    flag that lets the trigger allow exactly that."""
    table = AuditEvent._meta.db_table
    with _bypass("audit_seal"), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            for e in events:
                cursor.execute(
                    f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s",  # noqa: S608
                    [e.seq, e.prev_hash, e.hash, e.id],
                )
            return
        values = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(events))
        params = [v for e in events for v in (e.id, e.seq, e.prev_hash, e.hash)]
        cursor.execute(
            f"UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, seq, prev_hash, hash) "
            "WHERE e.id = v.id AND e.seq IS NULL",
            params,
        )
        if cursor.rowcount != len(events):  # the lock makes this impossible; never fork
            raise RuntimeError("audit sealer: an event was sealed by someone else meanwhile")


def nudge() -> None:
    """After the current transaction commits, have the sealer run soon."""
    if chain_enabled():
        transaction.on_commit(_wake, robust=True)


def _wake() -> None:
    try:
        if not cache.add(NUDGE_KEY, 1, timeout=60):
            return  # one is queued and has not started reading yet
    except Exception:  # no cache: nudge anyway
        logger.debug("audit sealer: cache unavailable for the nudge flag", exc_info=True)
    try:
        wake("audit.tasks.audit_seal", countdown=settings.AUDIT_SEAL_DELAY_MS / 1000)
    except Exception as exc:  # beat seals it anyway
        cache.delete(NUDGE_KEY)
        logger.warning("could not wake the audit sealer (%s); beat will", exc)


def seal_nudged(*, wait: bool) -> int:
    """The task's body: clear the nudge flag first (an event committed from
    now on sends a new nudge), then seal."""
    try:
        cache.delete(NUDGE_KEY)
    except Exception:
        logger.debug("audit sealer: cache unavailable for the nudge flag", exc_info=True)
    return seal(wait=wait)


def unsealed(*, cap: int | None = None) -> tuple[int, datetime | None]:
    """How many events wait for the sealer, and when the oldest happened.
    With `cap`, counts at most `cap` of them without a COUNT (pages: the
    figure is then "at least `cap`"); both read the small partial index of
    unsealed rows."""
    waiting = AuditEvent.objects.filter(seq__isnull=True)
    if cap is None:
        figures = waiting.aggregate(count=Count("id"), oldest=Min("created_at"))
        return figures["count"], figures["oldest"]
    ids = list(waiting.order_by("id").values_list("id", "created_at")[:cap])
    return len(ids), min((when for _, when in ids), default=None)
