"""API parity, audit: the export (CSV or JSON lines, streamed, the list's
filters), the chain's verification status, which key made a call; and the
contract as an outside client sees it (JSON everywhere under /api/, strict
query parsing)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from accounts.models import ApiKey
from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/api/admin/audit"


@pytest.fixture
def k(owner, key_for):
    return key_for(owner)


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_audit_export_csv_and_jsonl_with_the_lists_filters(client, k, owner, member):
    audit.record("accounts.user.banned", actor=owner, target=member, reason="=cmd|calc")
    audit.record("accounts.user.unbanned", actor=owner, target=member)
    response = client.get(f"{AUDIT}/export?action=accounts.user.banned", **k)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [r["action"] for r in rows] == ["accounts.user.banned"]
    assert rows[0]["reason"] == "'=cmd|calc"  # no spreadsheet formula
    response = client.get(f"{AUDIT}/export?format=jsonl&target_id={member.pk}", **k)
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in _body(response).splitlines()]
    assert {e["action"] for e in lines} == {"accounts.user.banned", "accounts.user.unbanned"}
    exported = AuditEvent.objects.filter(action="audit.log.exported").order_by("id")
    assert [e.changes["format"] for e in exported] == ["csv", "jsonl"]


def test_audit_export_needs_audit_export_and_parses_strictly(call, key_for, owner):
    reader = key_for(owner, scopes=["audit:read"])
    status, body, _ = call("get", f"{AUDIT}/export", reader)
    assert (status, body["error"]) == (403, "permission_denied")
    for query in ("format=xml", "until=0.5", "since=yesterday", "outcome=maybe"):
        status, body, _ = call("get", f"{AUDIT}/export?{query}", key_for(owner))
        assert (status, body["error"]) == (400, "validation_error"), query


def test_audit_list_parses_dates_strictly(call, k):
    """The contract run's "schema-violating request accepted": a number is
    not an RFC 3339 date-time."""
    for query in ("until=0.5", "since=12", "until=2026-01-01T00:00:00"):
        status, body, _ = call("get", f"{AUDIT}?{query}", k)
        assert (status, body["error"]) == (400, "validation_error"), query
    assert call("get", f"{AUDIT}?until=2099-01-01T00:00:00Z", k)[0] == 200


def test_chain_status_for_operators(call, k, key_for, owner, member):
    audit.record("accounts.user.banned", actor=owner, target=member)
    audit.seal()
    status, body, _ = call("get", f"{AUDIT}/chain", k)
    assert status == 200 and body["ok"] is True and body["checked"] >= 1
    assert body["checkpoint"].startswith(f"{AuditEvent.objects.order_by('-seq').first().id}:")
    assert body["unsealed"] == 0 and body["oldest_unsealed_at"] is None
    waiting = audit.record("accounts.user.unbanned", actor=owner, target=member)
    status, again, _ = call("get", f"{AUDIT}/chain", k)
    assert again["cached"] is True or again["checked"] >= body["checked"]
    # Waiting for the sealer: always current, cached verification or not.
    assert again["unsealed"] == 1
    oldest = dt.datetime.fromisoformat(again["oldest_unsealed_at"].replace("Z", "+00:00"))
    assert abs(oldest - waiting.created_at) < dt.timedelta(milliseconds=1)  # JSON: ms
    narrow = key_for(owner, scopes=["users:read"])
    assert call("get", f"{AUDIT}/chain", narrow)[0] == 403


def test_the_audit_row_of_an_api_call_names_its_key_never_the_key(call, owner, member):
    from accounts.services.api_keys import api_key_create

    key, raw = api_key_create(actor=owner, name="deploy-bot", template="full_access")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert call("post", f"/api/admin/users/{member.pk}/disable", headers, {})[0] == 200
    event = AuditEvent.objects.get(action="accounts.user.disabled")
    assert event.changes["credential"] == {"type": "api_key", "id": str(key.pk), "name": key.name}
    stored = json.dumps(event.changes)
    assert raw not in stored and ApiKey.objects.get(pk=key.pk).prefix not in stored.replace(
        key.name, ""
    )
    # A refusal names it too.
    narrow, raw2 = api_key_create(actor=owner, name="narrow-bot", scopes=["users:read"])
    status, _, _ = call(
        "post", f"/api/admin/users/{member.pk}/enable", {"HTTP_AUTHORIZATION": f"Bearer {raw2}"}, {}
    )
    assert status == 403
    denied = AuditEvent.objects.get(action="accounts.user.enabled", outcome="denied")
    assert denied.changes["credential"]["name"] == "narrow-bot"
    # The chain still verifies with the credential in the rows.
    assert audit.verify_chain().ok


def test_everything_under_api_answers_json(client, k):
    for method, path in (
        ("get", "/api/admin/users/not-a-uuid"),
        ("get", "/api/admin/jobs/123"),
        ("post", "/api/admin/emails/nope/retry"),
        ("get", "/api/admin/users/"),
        ("get", "/api/elsewhere"),
        ("put", "/api/admin/users"),
    ):
        response = getattr(client, method)(path, **k)
        assert response["Content-Type"].startswith("application/json"), (method, path)
        body = json.loads(response.content)
        assert set(body) == {"error", "detail"}, (method, path)
        assert response.status_code in (404, 405), (method, path)
    allowed = client.put("/api/admin/users", **k)["Allow"]
    assert {m.strip() for m in allowed.split(",")} == {"GET", "POST"}
