"""The audit log is append-only: through the ORM and, on PostgreSQL, at the
database."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit import services as audit
from audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return audit.record("tests.something.happened", actor=None, target=None, reason="seed")


def test_orm_refuses_to_update_an_event(event):
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).reason == "seed"


def test_orm_refuses_to_delete_an_event(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_postgres_trigger_refuses_raw_update_and_delete(require_postgres, event):
    for sql in (
        "UPDATE audit_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "seed"


def test_events_are_written_unsealed_and_chained_by_hash_by_the_sealer():
    first = audit.record("tests.one", reason="a")
    second = audit.record("tests.two", reason="b")
    assert (first.seq, first.prev_hash, first.hash) == (None, "", "")
    assert audit.seal() == 2
    first, second = AuditEvent.objects.filter(pk__in=[first.pk, second.pk]).order_by("seq")
    assert first.prev_hash == ""
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert second.hash == audit.compute_hash(second, first.hash)


def test_the_seal_flag_fills_in_an_unsealed_rows_links_once_and_nothing_else(
    require_postgres, event
):
    """The trigger lets the sealer's flag set `seq`, `prev_hash` and `hash`
    on an unsealed row -- not change its content, and not reseal."""
    refused = [
        "UPDATE audit_auditevent SET seq = 1, hash = 'x', reason = 'rewritten' WHERE id = %s",
        "UPDATE audit_auditevent SET seq = NULL WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ]
    for sql in refused[:1]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL handover.audit_seal = 'on'")
            cursor.execute(sql, [event.pk])
    assert audit.seal() == 1
    for sql in [
        "UPDATE audit_auditevent SET seq = 99, prev_hash = '', hash = 'y' WHERE id = %s",
        *refused[1:],
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL handover.audit_seal = 'on'")
            cursor.execute(sql, [event.pk])
    sealed = AuditEvent.objects.get(pk=event.pk)
    assert sealed.reason == "seed" and sealed.seq is not None


def test_labels_cannot_inject_new_lines():
    event = audit.record(
        "tests.injection",
        actor_label="mallory\r\nINFO fake line",
        target=audit.Target(type="user", id="1", label="x\x1b[31m\ny"),
    )
    assert "\n" not in event.actor_label and "\r" not in event.actor_label
    assert "\x1b" not in event.target_label and "\n" not in event.target_label


def test_secrets_are_redacted_from_changes():
    event = audit.record(
        "tests.secret",
        changes={"password": ["a", "b"], "nested": {"api_key": "hv_x"}, "name": ["a", "b"]},
    )
    assert event.changes["password"] == audit.REDACTED
    assert event.changes["nested"]["api_key"] == audit.REDACTED
    assert event.changes["name"] == ["a", "b"]


def test_an_event_rolls_back_with_its_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record("tests.rolled.back")
        raise RuntimeError
    assert not AuditEvent.objects.filter(action="tests.rolled.back").exists()
