"""Verifying the audit hash chain, and the one keyed boundary event for
chains begun before AUDIT_CHAIN_KEY existed."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from audit.models import AuditEvent, Target
from audit.services.hashing import (
    _VERIFY_FIELDS,
    PRUNED_ACTION,
    REKEYED_ACTION,
    SCRUBBED_ACTION,
    compute_hash,
)
from audit.services.record import record


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
    # Events not sealed yet (audit.services.sealer): in the log, not yet
    # in the chain, so not checked.
    unsealed: int = 0

    def __str__(self):
        if self.ok:
            waiting = f" {self.unsealed} not sealed yet." if self.unsealed else ""
            return f"Audit chain intact: {self.checked} events verified.{waiting}"
        return f"Audit chain broken at event {self.broken_id}: {self.problem}"

    @property
    def checkpoint(self) -> str:
        return f"{self.last_id}:{self.last_hash}" if self.last_id is not None else ""


def rekeyed_since() -> int | None:
    """The place (`seq`) of the event where the chain switched to keyed
    hashes (events before it carry plain SHA-256 hashes), or None when
    every event is keyed. The first such event counts: a later one could
    only have been written by someone holding the key."""
    return (
        AuditEvent.objects.filter(action=REKEYED_ACTION, seq__isnull=False)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )


def _is_keyed(seq: int, boundary: int | None) -> bool:
    return boundary is None or seq >= boundary


def chain_rekey(*, legacy_events: int) -> AuditEvent:
    """Append the boundary event after which every hash is keyed. Called
    once, by the migration that introduced AUDIT_CHAIN_KEY, on a database
    that already holds unkeyed events. The event is itself keyed and
    chains from the last plain hash, so nobody without the key can alter
    the events before it either. Sealed at once: the boundary is a place
    in the chain."""
    from audit.services.sealer import seal

    event = record(
        REKEYED_ACTION,
        target=Target(type="audit", id="", label="Audit log"),
        reason="The audit chain is keyed from this event on (HMAC-SHA256, AUDIT_CHAIN_KEY).",
        changes={"legacy_events": legacy_events},
    )
    seal(wait=True)
    return event


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
    """Walk every sealed event in chain order (`seq`; streamed, constant
    memory) and return the first broken link: a row whose `prev_hash` is
    not its predecessor's hash, or whose content no longer hashes to its
    stored `hash`. Unsealed events (no `seq`, no hash yet) are counted, not
    checked; a row with a hash but no place in the chain is broken.

    The first remaining row may chain from a hash that is gone only if a
    prune checkpoint vouches for it; a row rewritten by `audit_scrub_user`
    passes if its new content hashes to what the scrub event attested (its
    `hash` column, and so the links, are never rewritten)."""
    anchors, rehashed = _attestations()
    boundary = rekeyed_since()
    stray = (
        AuditEvent.objects.filter(seq__isnull=True)
        .exclude(hash="")
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if stray is not None:
        return ChainReport(
            False,
            0,
            stray,
            "it carries a hash but has no place in the chain (written outside the sealer).",
        )
    unsealed = AuditEvent.objects.filter(seq__isnull=True).count()
    previous: str | None = None
    last_id = None
    checked = 0
    rows = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list(*_VERIFY_FIELDS)
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
        keyed = _is_keyed(event.seq, boundary)
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
    return ChainReport(True, checked, last_id=last_id, last_hash=previous or "", unsealed=unsealed)
