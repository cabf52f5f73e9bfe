"""Retention: the one path that may delete audit history, a prefix of the
chain at a time, leaving a checkpoint event the verification accepts."""

from __future__ import annotations

from django.db import connection, transaction

from audit.models import AuditEvent, Target
from audit.services.hashing import PRUNED_ACTION, _bypass, lock_chain
from audit.services.record import record

# --- retention ----------------------------------------------------------------


@transaction.atomic
def prune_before(*, actor=None, before) -> AuditEvent | None:
    """Remove the events created before `before` (a datetime) -- the one
    path that may delete audit history -- and record a checkpoint event.

    Only a prefix of the chain is ever removed (every sealed event up to
    the newest old-enough one, in chain order; unsealed events wait for the
    sealer and are kept), so the remaining events still link to each other; the
    checkpoint records how many were removed and the hash the first kept
    event chains from, which `verify_chain` accepts as the new start.
    The caller (command, beat task) decides who may run this; it is not
    reachable from any page. Returns the checkpoint, or None if nothing
    was old enough."""
    lock_chain()
    boundary = (
        AuditEvent.objects.filter(created_at__lt=before, seq__isnull=False)
        .order_by("-seq")
        .values_list("id", "seq", "hash")
        .first()
    )
    if boundary is None:
        return None
    last_id, last_seq, last_hash = boundary
    table = AuditEvent._meta.db_table
    with _bypass("audit_prune"), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE seq <= %s", [last_seq])  # noqa: S608
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
