"""The audit hash chain's links: each event's HMAC-SHA256 (under
AUDIT_CHAIN_KEY) over its content and the previous hash, and the chain's
lock, held by the paths that change the chain (the sealer, retention,
erasure) -- never by a writer of events (audit.services.sealer)."""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection

from audit.models import AuditEvent
from core.compiled import Compiled
from core.services import ServiceBusy

# Any constant works; it names the audit chain's advisory lock (the sealer's).
_CHAIN_LOCK_ID = 0x48414E44  # "HAND"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out


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
    # Impersonation: covered when set, absent otherwise, so every event
    # written before the field existed keeps the hash it was chained with.
    acting_for_id = getattr(event, "acting_for_id", None)
    acting_for_label = getattr(event, "acting_for_label", "")
    if acting_for_id or acting_for_label:
        payload["acting_for_id"] = str(acting_for_id) if acting_for_id else None
        payload["acting_for_label"] = acting_for_label
    # The organization (issue 24): the same, covered when set -- it decides
    # who may read the event, so altering it breaks the chain.
    organization_id = getattr(event, "organization_id", None)
    if organization_id is not None:
        payload["organization_id"] = int(organization_id)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent, prev_hash: str, *, keyed: bool = True) -> str:
    """The event's chain hash: HMAC-SHA256 under AUDIT_CHAIN_KEY of the
    previous hash and the event's content. `keyed=False` is the plain
    SHA-256 of events written before the chain was rekeyed (verification
    only)."""
    message = prev_hash.encode() + b"|" + _canonical(event)
    if not keyed:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(settings.AUDIT_CHAIN_KEY, message, hashlib.sha256).hexdigest()


def lock_chain(*, wait: bool = True) -> bool:
    """Take the chain's lock -- the sealer's, held only by the paths that
    change the chain itself (sealing, retention, erasure), never by a
    writer of events -- for the current transaction. `wait=False` answers
    at once (False: someone holds it). Waiting is bounded by
    AUDIT_LOCK_TIMEOUT_MS, then `ServiceBusy` (503, nothing changed).
    Always True on databases without advisory locks."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
        if cursor.fetchone()[0]:
            return True
        if not wait:
            return False
        _wait_for_chain_lock(cursor)
    return True


def _wait_for_chain_lock(cursor) -> None:
    """Wait for the chain lock under a transaction-local lock_timeout, then
    put the caller's lock_timeout back (later row locks keep theirs)."""
    cursor.execute(
        "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
        [f"{int(settings.AUDIT_LOCK_TIMEOUT_MS)}ms"],
    )
    previous = cursor.fetchone()[0]
    try:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise ServiceBusy() from exc
        raise
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


@contextmanager
def _bypass(flag: str):
    """Let the PostgreSQL trigger allow the rewrite done inside this block.
    The flag is transaction-local, and switched off again on the way out so
    that it never outlives the block when the caller's transaction goes on
    (the path may run inside an outer transaction)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL handover.{flag} = 'on'")
    yield  # on an error, rolling back the (savepoint) transaction undoes the SET
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL handover.{flag} = 'off'")


# Read by every sealer run: its SQL is the ORM's, written once
# (core.compiled; compiling it was most of what it cost).
_last_sealed = Compiled(
    lambda: AuditEvent.objects.filter(seq__isnull=False).order_by("-seq").only("seq", "hash")[:1]
)


def chain_tail() -> tuple[int, str]:
    """The last sealed event's place and hash: (0, "") for an empty chain.
    Read under the chain's lock."""
    last = next(iter(_last_sealed()), None)
    return (last.seq, last.hash) if last is not None else (0, "")


# --- verification -------------------------------------------------------------

PRUNED_ACTION = "audit.log.pruned"
SCRUBBED_ACTION = "audit.user.scrubbed"
REKEYED_ACTION = "audit.chain.rekeyed"
# The columns an event's hash covers (besides the previous hash), in the
# order bulk loaders write them.
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "batch_id",
    "reason",
    "outcome",
    "changes",
    "acting_for_id",
    "acting_for_label",
    "organization_id",
)
_VERIFY_FIELDS = ("id", "seq", *HASHED_FIELDS, "prev_hash", "hash")
