"""A database that sits at audit 0005 with events (plain SHA-256 chain) and
is upgraded straight to the current release: the rekey migration (0006)
writes its boundary through the historical model, so the later migrations
run and the chain verifies. It used to call the live audit service, which
wrote columns 0005 does not have."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _plain_hash(row: dict, prev: str) -> str:
    payload = {
        "created_at": row["created_at"].isoformat(),
        "actor_id": None,
        "actor_label": row["actor_label"],
        "action": row["action"],
        "target_type": "",
        "target_id": "",
        "target_label": "",
        "ip": None,
        "user_agent": "",
        "request_id": "",
        "batch_id": None,
        "reason": row["reason"],
        "outcome": "success",
        "changes": {},
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(prev.encode() + b"|" + canonical.encode()).hexdigest()


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_a_0005_database_with_events_upgrades_to_a_verifying_keyed_chain(require_postgres):
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        executor = _migrate([("audit", "0005_scale_audit_actor_label_idx")])
        old_event = executor.loader.project_state(
            [("audit", "0005_scale_audit_actor_label_idx")]
        ).apps.get_model("audit", "AuditEvent")
        prev = ""
        for i in range(3):
            row = {
                "created_at": timezone.now(),
                "actor_label": "system",
                "action": "tests.legacy",
                "reason": f"event {i}",
            }
            digest = _plain_hash(row, prev)
            old_event.objects.create(**row, outcome="success", prev_hash=prev, hash=digest)
            prev = digest

        _migrate(latest)  # 0006 ... the newest, in one go

        boundary = AuditEvent.objects.get(action=audit.REKEYED_ACTION)
        assert boundary.changes == {"legacy_events": 3}
        assert boundary.prev_hash == prev
        audit.record("tests.after", reason="written by the current release")
        audit.seal()
        report = audit.verify_chain()
        assert report.ok, report
        assert report.checked == 5
    finally:
        _migrate(latest)
