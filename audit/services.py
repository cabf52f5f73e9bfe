"""Writing the audit log.

`record` is called by services inside their own transaction, so the event
commits or rolls back with the change it describes. Each event carries an
HMAC-SHA256 (under AUDIT_CHAIN_KEY) of its content chained to the previous
event's hash; writers take a transaction-level lock first so concurrent
transactions cannot fork the chain. Someone who can write to the database
but does not hold the key cannot recompute the hashes after changing a row.

Chains begun before the key existed used a plain SHA-256: the data migration
that introduced the key appended one `audit.chain.rekeyed` event (itself
keyed, and so pinning every hash before it); events before that boundary
verify with the plain hash, the boundary and everything after with the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit import context
from audit.figures import figures_changed
from audit.models import AuditEvent, Outcome, Target  # noqa: F401 (Target: callers' name)
from core.services import ServiceBusy, service
from rbac import policies

# Keys whose values are never written to the log, at any depth.
SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|key_hash|token_hash|otp|totp|recovery|code)",
    re.I,
)
REDACTED = "[redacted]"
# C0/C1 controls, line/paragraph separators and bidi overrides (which can
# make a label display as something else).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Any constant works; it names the audit chain's advisory lock.
_CHAIN_LOCK_ID = 0x48414E44  # "HAND"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out


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


def compute_hash(event: AuditEvent, prev_hash: str, *, keyed: bool = True) -> str:
    """The event's chain hash: HMAC-SHA256 under AUDIT_CHAIN_KEY of the
    previous hash and the event's content. `keyed=False` is the plain
    SHA-256 of events written before the chain was rekeyed (verification
    only)."""
    message = prev_hash.encode() + b"|" + _canonical(event)
    if not keyed:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(settings.AUDIT_CHAIN_KEY, message, hashlib.sha256).hexdigest()


def _lock_chain() -> str:
    """Serialise chain writers and return the hash to chain from. The lock
    is waited on for at most AUDIT_LOCK_TIMEOUT_MS: a writer stuck holding
    it must not take every other writer (and the web workers) down with
    it; the waiter gives up with `ServiceBusy` (503, nothing changed)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
            if not cursor.fetchone()[0]:
                _wait_for_chain_lock(cursor)
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or ""


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
    """Write several events in one insert (batch actions), chained in order."""
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


@transaction.atomic
def _write(specs: list[EventSpec]) -> list[AuditEvent]:
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
    created = AuditEvent.objects.bulk_create(events)
    changed = {e.action for e in events if e.outcome == Outcome.SUCCESS}
    if changed:
        # The overview's cached figures go stale the moment this commits.
        transaction.on_commit(lambda: figures_changed(changed), robust=True)
    return created


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
)
_VERIFY_FIELDS = ("id", *HASHED_FIELDS, "prev_hash", "hash")


@dataclass
class ChainReport:
    """What `verify_chain` found. `broken_id` names the first event whose
    link or content does not check out (None when the chain is intact)."""

    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str = ""
    # The newest verified event: an operator can keep it outside the
    # database and later check that the chain still passes through it.
    last_id: int | None = None
    last_hash: str = ""

    def __str__(self):
        if self.ok:
            return f"Audit chain intact: {self.checked} events verified."
        return f"Audit chain broken at event {self.broken_id}: {self.problem}"

    @property
    def checkpoint(self) -> str:
        return f"{self.last_id}:{self.last_hash}" if self.last_id is not None else ""


def rekeyed_since() -> int | None:
    """The id of the event where the chain switched to keyed hashes (events
    before it carry plain SHA-256 hashes), or None when every event is
    keyed. The first such event counts: a later one could only have been
    written by someone holding the key."""
    return (
        AuditEvent.objects.filter(action=REKEYED_ACTION)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def _is_keyed(event_id: int, boundary: int | None) -> bool:
    return boundary is None or event_id >= boundary


def chain_rekey(*, legacy_events: int) -> AuditEvent:
    """Append the boundary event after which every hash is keyed. Called
    once, by the migration that introduced AUDIT_CHAIN_KEY, on a database
    that already holds unkeyed events. The event is itself keyed and
    chains from the last plain hash, so nobody without the key can alter
    the events before it either."""
    return record(
        REKEYED_ACTION,
        target=Target(type="audit", id="", label="Audit log"),
        reason="The audit chain is keyed from this event on (HMAC-SHA256, AUDIT_CHAIN_KEY).",
        changes={"legacy_events": legacy_events},
    )


def _attestations() -> tuple[set[str], dict[int, str]]:
    """What the dedicated paths vouched for: the hashes prunes chained from,
    and the recomputed hash of every row a scrub rewrote ({id: hash}).
    Checkpoints are few, and found through the action index."""
    anchors: set[str] = set()
    rehashed: dict[int, str] = {}
    rows = AuditEvent.objects.filter(action__in=[PRUNED_ACTION, SCRUBBED_ACTION]).values_list(
        "action", "changes"
    )
    for action, changes in rows.order_by("id").iterator(chunk_size=200):
        if action == PRUNED_ACTION and changes.get("chained_from"):
            anchors.add(changes["chained_from"])
        elif action == SCRUBBED_ACTION:
            for event_id, digest in (changes.get("rows") or {}).items():
                rehashed[int(event_id)] = digest
    return anchors, rehashed


def verify_chain(*, chunk_size: int = 2000) -> ChainReport:
    """Walk every event in id order (streamed, constant memory) and return
    the first broken link: a row whose `prev_hash` is not its predecessor's
    hash, or whose content no longer hashes to its stored `hash`.

    The first remaining row may chain from a hash that is gone only if a
    prune checkpoint vouches for it; a row rewritten by `audit_scrub_user`
    passes if its new content hashes to what the scrub event attested (its
    `hash` column, and so the links, are never rewritten)."""
    anchors, rehashed = _attestations()
    boundary = rekeyed_since()
    previous: str | None = None
    last_id = None
    checked = 0
    rows = AuditEvent.objects.order_by("id").values_list(*_VERIFY_FIELDS)
    for values in rows.iterator(chunk_size=chunk_size):
        event = AuditEvent(**dict(zip(_VERIFY_FIELDS, values, strict=True)))
        if previous is None:
            if event.prev_hash and event.prev_hash not in anchors:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    "the first event chains from a hash no prune checkpoint accounts for "
                    "(earlier events were removed outside audit_prune).",
                )
        elif event.prev_hash != previous:
            return ChainReport(
                False,
                checked,
                event.id,
                "its previous-hash does not match the event before it "
                "(an event was removed or inserted).",
            )
        keyed = _is_keyed(event.id, boundary)
        digest = compute_hash(event, event.prev_hash, keyed=keyed)
        if not hmac.compare_digest(digest, event.hash) and rehashed.get(event.id) != digest:
            return ChainReport(
                False,
                checked,
                event.id,
                "its content does not match its hash (the row was altered, "
                "or AUDIT_CHAIN_KEY is not the key the chain was written with).",
            )
        previous = event.hash
        last_id = event.id
        checked += 1
    return ChainReport(True, checked, last_id=last_id, last_hash=previous or "")


# --- retention ----------------------------------------------------------------


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


@transaction.atomic
def prune_before(*, actor=None, before) -> AuditEvent | None:
    """Remove the events created before `before` (a datetime) -- the one
    path that may delete audit history -- and record a checkpoint event.

    Only a prefix of the chain is ever removed (every id up to the newest
    old-enough one), so the remaining events still link to each other; the
    checkpoint records how many were removed and the hash the first kept
    event chains from, which `verify_chain` accepts as the new start.
    The caller (command, beat task) decides who may run this; it is not
    reachable from any page. Returns the checkpoint, or None if nothing
    was old enough."""
    _lock_chain()
    boundary = (
        AuditEvent.objects.filter(created_at__lt=before)
        .order_by("-id")
        .values_list("id", "hash")
        .first()
    )
    if boundary is None:
        return None
    last_id, last_hash = boundary
    table = AuditEvent._meta.db_table
    with _bypass("audit_prune"), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id <= %s", [last_id])  # noqa: S608
        removed = cursor.rowcount
    return record(
        PRUNED_ACTION,
        actor=actor,
        target=Target(type="audit", id="", label="Audit log"),
        reason=f"Retention: removed events created before {before.isoformat()}.",
        changes={
            "removed": removed,
            "before": before.isoformat(),
            "last_removed_id": last_id,
            "chained_from": last_hash,
        },
    )


# --- erasure ------------------------------------------------------------------

SCRUBBED = "[scrubbed]"
_PERSONAL_FIELDS = ("email", "name", "phone", "metadata")


def _scrub_value(value, secrets_: set[str]):
    if isinstance(value, str):
        return SCRUBBED if value and value in secrets_ else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, secrets_) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secrets_) for v in value]
    return value


def _scrubbed_changes(changes: dict, personal: set[str], about_user: bool) -> dict:
    out = {}
    for key, value in (changes or {}).items():
        if about_user and key in _PERSONAL_FIELDS:
            out[key] = SCRUBBED
        else:
            out[key] = _scrub_value(value, personal)
    return out


@service
def audit_scrub_user(*, actor, user_id) -> AuditEvent | None:
    """Erase a deleted user's personal data from the events about them or by
    them, on request (right to erasure), keeping the events themselves.

    Design: events are append-only and hash-chained, so erasure is a second
    dedicated path like retention. Under a transaction-local flag the
    PostgreSQL trigger lets it rewrite only the personal columns (labels,
    IP, user agent, reason, changes) -- never id, time, action, ids, outcome
    or the `hash`/`prev_hash` link columns. Each rewritten row's new content
    hash is attested, row by row, in one `audit.user.scrubbed` event appended
    to the chain (itself free of personal data), so `verify_chain` still
    checks every link and every byte: a rewritten row must hash to what the
    scrub event recorded. Labels become "deleted user <id prefix>"; emails,
    names and phone numbers inside changes become "[scrubbed]"; the user's
    own IP address and user agent are cleared.

    Guard: `check_can_scrub_audit` (users:delete and, while the account
    row exists, the hierarchy over the user as if they were active), and
    the user must already be deleted (soft or hard); refuses with
    PolicyDenied otherwise. Returns the scrub event,
    or None when there was nothing left to scrub."""

    action = SCRUBBED_ACTION
    user_key = str(user_id)
    policies.check_permission(actor, "users:delete", action=action)
    user = User.objects.filter(pk=user_key).first() if _is_uuid(user_key) else None
    if not _is_uuid(user_key) or (user is not None and user.deleted_at is None):
        raise policies.PolicyDenied(
            "not_deleted",
            "Only a deleted user's personal data can be scrubbed; delete the user first.",
            action=action,
            actor=actor,
            target=Target(type="user", id=user_key[:64], label=f"user {user_key[:8]}"),
        )
    policies.check_can_scrub_audit(
        actor, user, target=Target(type="user", id=user_key, label=f"user {user_key[:8]}")
    )
    _lock_chain()
    pseudonym = f"deleted user {user_key[:8]}"
    uid = uuid.UUID(user_key)
    rows = AuditEvent.objects.filter(models_q_about(uid)).order_by("id")
    personal: set[str] = set()
    if user is not None:
        personal.update(v for v in (user.email, user.name, user.phone) if v)
    for actor_id, actor_label, target_id, target_label in rows.values_list(
        "actor_id", "actor_label", "target_id", "target_label"
    ).iterator(chunk_size=1000):
        if actor_id == uid and actor_label:
            personal.add(actor_label)
        if target_id == user_key and target_label:
            personal.add(target_label)
    personal.discard(pseudonym)
    boundary = rekeyed_since()
    attested: dict[str, str] = {}
    table = AuditEvent._meta.db_table
    with _bypass("audit_scrub"), connection.cursor() as cursor:
        for event in rows.exclude(action=SCRUBBED_ACTION).iterator(chunk_size=1000):
            by_user = event.actor_id == uid
            about_user = event.target_id == user_key
            new = {
                "actor_label": pseudonym if by_user else event.actor_label,
                "target_label": pseudonym if about_user else event.target_label,
                "ip": None if by_user else event.ip,
                "user_agent": "" if by_user else event.user_agent,
                "reason": _scrub_text(event.reason, personal),
                "changes": _scrubbed_changes(event.changes, personal, about_user),
            }
            if all(getattr(event, k) == v for k, v in new.items()):
                continue
            for key, value in new.items():
                setattr(event, key, value)
            cursor.execute(
                f"UPDATE {table} SET actor_label = %s, target_label = %s, ip = %s, "  # noqa: S608
                "user_agent = %s, reason = %s, changes = %s WHERE id = %s",
                [
                    event.actor_label,
                    event.target_label,
                    event.ip,
                    event.user_agent,
                    event.reason,
                    json.dumps(event.changes),
                    event.id,
                ],
            )
            attested[str(event.id)] = compute_hash(
                event, event.prev_hash, keyed=_is_keyed(event.id, boundary)
            )
    if not attested:
        return None
    return record(
        action,
        actor=actor,
        target=Target(type="user", id=user_key, label=pseudonym),
        reason="Personal data erased on request.",
        changes={"scrubbed": len(attested), "rows": attested},
    )


def _scrub_text(text: str, personal: set[str]) -> str:
    for value in sorted(personal, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, SCRUBBED)
    return text


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def models_q_about(user_id):
    """Events by or about a user."""

    return Q(actor_id=user_id) | Q(target_id=str(user_id))
