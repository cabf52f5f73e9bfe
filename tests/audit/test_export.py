"""Export: streamed CSV and JSON Lines of the current filter, audited, with
flat memory however many rows."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.urls import reverse

from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_export_requires_audit_export(client_for, viewer, owner):
    from rbac.models import Role, UserRole

    role = Role.objects.create(slug="auditor", name="Auditor", permissions=["audit:read"])
    UserRole.objects.create(user=viewer, role=role)
    response = client_for(viewer).get(reverse("audit:export_csv"))
    assert response.status_code == 403
    assert "You need the permission audit:export to see this page." in response.content.decode()


def test_csv_export_follows_the_filter_and_is_audited(client_for, admin_user, member):
    audit.record("accounts.user.banned", actor=admin_user, target=member, reason="spam")
    audit.record("accounts.user.enabled", actor=admin_user, target=member)
    response = client_for(admin_user).get(
        reverse("audit:export_csv"), {"action": "accounts.user.banned"}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-log.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [r["action"] for r in rows] == ["accounts.user.banned"]
    assert rows[0]["target_label"] == member.email and rows[0]["reason"] == "spam"
    exported = AuditEvent.objects.get(action="audit.log.exported")
    assert exported.actor_id == admin_user.pk
    assert exported.changes == {
        "format": "csv",
        "filters": {"action": "accounts.user.banned"},
    }


def test_jsonl_export_is_one_object_per_line(client_for, admin_user):
    audit.record("tests.a", changes={"name": ["a", "b"]})
    response = client_for(admin_user).get(reverse("audit:export_jsonl"), {"action": "tests.a"})
    assert response["Content-Type"] == "application/x-ndjson"
    lines = _body(response).splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["action"] == "tests.a" and record["changes"] == {"name": ["a", "b"]}


def test_csv_export_neutralises_spreadsheet_formulas(client_for, admin_user):
    audit.record("tests.formula", reason='=HYPERLINK("http://evil")')
    body = _body(
        client_for(admin_user).get(reverse("audit:export_csv"), {"action": "tests.formula"})
    )
    assert "'=HYPERLINK" in body


def _peak_while_streaming(client, n_rows: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        response = client.get(reverse("audit:export_csv"), {"action": "tests.bulk"})
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


def _add_events(n: int) -> None:
    """`n` audit rows with labels and a reason, as an export would stream them."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action="tests.bulk",
                actor_label="someone@example.com",
                target_label="target@example.com",
                reason="r" * 40,
            )
            for _ in range(n)
        ],
        batch_size=2000,
    )


@pytest.mark.slow
def test_export_memory_stays_flat_over_100000_rows(client_for, admin_user):
    client = client_for(admin_user)
    _add_events(10_000)
    lines_small, peak_small = _peak_while_streaming(client, 10_000)
    for _ in range(9):
        _add_events(10_000)
    lines_large, peak_large = _peak_while_streaming(client, 100_000)
    assert lines_small == 10_001 and lines_large == 100_001
    # Ten times the rows, about the same memory: the rows are never all held.
    assert peak_large < 16 * 1024 * 1024
    assert peak_large < peak_small * 2 + 2 * 1024 * 1024
