"""The sealer (issue 29): events are written unsealed by the request's
transaction and linked into the chain in commit order by one sealer, so
that nothing can be appended out of order -- with real PostgreSQL
connections committing in the opposite order of their ids -- and
`verify_chain` still catches an out-of-order, stray or changed row."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from audit import services as audit
from audit.models import AuditEvent
from tests.accounts.test_emails_reliability import broker, services_ready  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def _raw(sql, params=()):
    """Run SQL as someone with database access, the trigger switched off."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_a_lower_id_committed_later_is_sealed_after_what_was_sealed_meanwhile(
    require_postgres, settings
):
    """Two real connections: A inserts first (lower id) and commits last.
    The sealer never sees A before it commits, and appends it after B --
    it cannot be slipped in before an event already sealed."""
    settings.AUDIT_CHAIN_ENABLED = True
    inserted, release, done = threading.Event(), threading.Event(), threading.Event()
    errors, ids = [], {}

    def slow_writer():
        try:
            with transaction.atomic():
                ids["a"] = audit.record("tests.sealer.a").pk
                inserted.set()
                assert release.wait(10)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    with transaction.atomic():
        ids["b"] = audit.record("tests.sealer.b").pk
    assert ids["a"] < ids["b"]
    audit.seal()  # (B's commit already nudged it: eager tasks) A is still open: invisible
    assert not AuditEvent.objects.filter(pk=ids["a"]).exists()
    b = AuditEvent.objects.get(pk=ids["b"])
    assert b.seq is not None
    release.set()
    assert done.wait(10)
    thread.join()
    assert not errors
    audit.seal()
    a = AuditEvent.objects.get(pk=ids["a"])
    assert a.seq == b.seq + 1 and a.prev_hash == b.hash
    report = audit.verify_chain()
    assert report.ok and report.unsealed == 0 and report.last_id == a.pk


def test_writers_and_a_sealer_running_together_seal_every_event_once_in_one_chain(
    require_postgres,
):
    """Four writers commit while a sealer runs in a loop beside them."""
    errors, stop = [], threading.Event()

    def writer(name):
        try:
            for i in range(25):
                with transaction.atomic():
                    audit.record("tests.sealer.many", reason=f"{name} {i}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def sealer():
        try:
            while not stop.is_set():
                audit.seal(wait=True)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in "abcd"]
    loop = threading.Thread(target=sealer)
    loop.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    loop.join()
    assert not errors
    audit.seal()
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == 100 and seqs == list(range(seqs[0], seqs[0] + 100))
    report = audit.verify_chain()
    assert report.ok and report.checked == 100


def _sealed(n):
    ids = [audit.record("tests.sealer.v", reason=f"event {i}").pk for i in range(n)]
    audit.seal()
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("seq"))


def test_verify_catches_an_out_of_order_row(require_postgres):
    """Two sealed events swapped in the chain's order (their places
    exchanged by someone with database access)."""
    events = _sealed(4)
    first, second = events[1], events[2]
    _raw("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [first.pk])
    _raw("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
    _raw("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == second.pk
    assert "previous-hash does not match" in report.problem


def test_verify_catches_a_changed_and_a_deleted_row(require_postgres):
    events = _sealed(5)
    _raw("UPDATE audit_auditevent SET reason = 'changed' WHERE id = %s", [events[3].pk])
    assert audit.verify_chain().broken_id == events[3].pk
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = audit.verify_chain()
    assert report.broken_id == events[2].pk and "previous-hash" in report.problem


def test_a_row_with_a_hash_but_no_place_in_the_chain_is_reported(require_postgres):
    """A row forged with a hash but left out of the chain's order (written
    around the sealer) is not taken for a pending event."""
    _sealed(2)
    AuditEvent.objects.create(action="tests.sealer.forged", prev_hash="x", hash="y")
    report = audit.verify_chain()
    assert not report.ok and "no place in the chain" in report.problem


def test_unsealed_events_are_counted_not_checked_and_the_sealer_skips_nothing(
    require_postgres, settings
):
    _sealed(2)
    settings.AUDIT_CHAIN_ENABLED = False  # the benchmark's baseline: no nudge, no sealing
    audit.record("tests.sealer.later")
    audit.record("tests.sealer.later")
    assert audit.seal() == 0
    settings.AUDIT_CHAIN_ENABLED = True
    count, oldest = audit.unsealed()
    assert count == 2 and oldest is not None
    report = audit.verify_chain()
    assert report.ok and report.checked == 2 and report.unsealed == 2
    assert "2 not sealed yet" in str(report)
    assert audit.seal() == 2
    assert audit.unsealed() == (0, None)


def test_a_nudge_queues_one_seal_that_starts_after_the_delay(broker, settings):  # noqa: F811
    """The nudge after a commit publishes the sealer's task with an ETA
    AUDIT_SEAL_DELAY_MS ahead (so one run seals what commits meanwhile),
    and a second nudge while that one waits publishes nothing (the real
    Redis broker, the message read back from its queue)."""
    import json
    from datetime import datetime

    import redis
    from django.core.cache import cache

    from audit.services import sealer

    settings.AUDIT_SEAL_DELAY_MS = 400
    cache.delete(sealer.NUDGE_KEY)
    before = datetime.now().astimezone()
    sealer._wake()
    sealer._wake()
    queued = redis.Redis.from_url(broker.url).lrange("celery", 0, -1)
    assert len(queued) == 1
    headers = json.loads(queued[0])["headers"]
    assert headers["task"] == "audit.tasks.audit_seal"
    delay = (datetime.fromisoformat(headers["eta"]) - before).total_seconds()
    assert 0.3 < delay < 1.5, delay
    cache.delete(sealer.NUDGE_KEY)
