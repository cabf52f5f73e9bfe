"""The audit chain is keyed: someone who can write to the database but does
not hold AUDIT_CHAIN_KEY cannot alter a row and recompute the hashes; chains
written before the key existed move over at one keyed boundary event."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from audit import services as audit
from audit.models import AuditEvent
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

rekey_migration = importlib.import_module("audit.migrations.0006_audit_chain_rekeyed")


def _events(n, action="tests.keyed"):
    """`n` events, sealed into the chain (as the sealer does after commit)."""
    ids = [audit.record(action, reason=f"event {i}").pk for i in range(n)]
    assert audit.seal() == n
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("seq"))


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def _rewrite_from(start_id, recompute):
    """What an intruder with database access does: rewrite the hash of every
    event from `start_id` on with `recompute(event, prev_hash)`, so that each
    link matches again."""
    events = list(AuditEvent.objects.order_by("id"))
    prev = ""
    for event in events:
        if event.id >= start_id:
            event.prev_hash = prev
            event.hash = recompute(event, prev)
            _raw(
                "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [event.prev_hash, event.hash, event.id],
            )
        prev = event.hash


def _output(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_each_hash_is_an_hmac_under_the_audit_chain_key():
    first, second = _events(2)
    message = first.hash.encode() + b"|" + audit._canonical(second)
    assert second.hash == hmac.new(settings.AUDIT_CHAIN_KEY, message, hashlib.sha256).hexdigest()
    assert second.hash != hashlib.sha256(message).hexdigest()


def test_a_row_changed_by_raw_sql_with_hashes_recomputed_without_the_key_fails_verify(
    require_postgres,
):
    events = _events(4)
    target = events[1]
    _raw("UPDATE audit_auditevent SET reason = 'forged' WHERE id = %s", [target.pk])

    def unkeyed(event, prev):
        return hashlib.sha256(prev.encode() + b"|" + audit._canonical(event)).hexdigest()

    _rewrite_from(target.pk, unkeyed)
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == target.pk
    with pytest.raises(CommandError, match=f"broken at event {target.pk}: its content"):
        call_command("audit_verify")


def test_hashes_recomputed_under_another_key_fail_verify(require_postgres):
    events = _events(3)
    _raw("UPDATE audit_auditevent SET reason = 'forged' WHERE id = %s", [events[0].pk])

    def wrong_key(event, prev):
        message = prev.encode() + b"|" + audit._canonical(event)
        return hmac.new(b"guessed key", message, hashlib.sha256).hexdigest()

    _rewrite_from(events[0].pk, wrong_key)
    assert audit.verify_chain().broken_id == events[0].pk


def test_verify_with_another_key_than_the_chain_was_written_with_fails(settings):
    _events(2)
    settings.AUDIT_CHAIN_KEY = b"not the key"
    report = audit.verify_chain()
    assert not report.ok
    assert "AUDIT_CHAIN_KEY is not the key" in report.problem


def test_audit_verify_prints_a_checkpoint_and_checks_an_anchor():
    events = _events(3)
    out = _output("audit_verify", "--checkpoint")
    assert f"Checkpoint: {events[-1].pk}:{events[-1].hash}" in out
    _events(2)
    out = _output("audit_verify", "--anchor", f"{events[-1].pk}:{events[-1].hash}")
    assert f"Anchor {events[-1].pk} found in the chain." in out
    with pytest.raises(CommandError, match="does not match"):
        call_command("audit_verify", "--anchor", f"{events[-1].pk}:{'0' * 64}")
    with pytest.raises(CommandError, match="takes the id:hash"):
        call_command("audit_verify", "--anchor", "nonsense")


def _legacy_chain(n):
    """Events as a release before the key wrote them (plain SHA-256)."""
    events = _events(n, action="tests.legacy")
    _rewrite_from(events[0].pk, lambda event, prev: audit.compute_hash(event, prev, keyed=False))
    return events


def test_an_existing_unkeyed_chain_moves_over_at_one_keyed_boundary(require_postgres):
    legacy = _legacy_chain(3)
    assert not audit.verify_chain().ok  # unkeyed rows, no boundary yet
    rekey_migration.rekey(django_apps, None)
    rekey_migration.rekey(django_apps, None)  # runs once
    boundary = AuditEvent.objects.get(action=audit.REKEYED_ACTION)
    assert boundary.changes == {"legacy_events": 3}
    assert boundary.prev_hash == AuditEvent.objects.get(pk=legacy[-1].pk).hash
    after = _events(2)
    report = audit.verify_chain()
    assert report.ok and report.checked == 6
    assert report.last_id == after[-1].pk


def test_legacy_events_before_the_boundary_are_pinned_by_it(require_postgres):
    legacy = _legacy_chain(3)
    rekey_migration.rekey(django_apps, None)
    _events(1)
    boundary = AuditEvent.objects.get(action=audit.REKEYED_ACTION)
    # Alter a legacy row and recompute the legacy hashes up to the boundary:
    # the boundary is keyed, so its link cannot be recomputed.
    _raw("UPDATE audit_auditevent SET reason = 'forged' WHERE id = %s", [legacy[1].pk])
    rows = list(AuditEvent.objects.filter(id__lt=boundary.pk).order_by("id"))
    prev = ""
    for event in rows:
        event.hash = audit.compute_hash(event, prev, keyed=False)
        _raw(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, event.hash, event.pk],
        )
        prev = event.hash
    _raw("UPDATE audit_auditevent SET prev_hash = %s WHERE id = %s", [prev, boundary.pk])
    assert audit.verify_chain().broken_id == boundary.pk


def test_a_forged_boundary_without_the_key_does_not_make_keyed_rows_plain(require_postgres):
    events = _events(3)
    _raw(
        "UPDATE audit_auditevent SET action = %s WHERE id = %s",
        [audit.REKEYED_ACTION, events[-1].pk],
    )
    _rewrite_from(events[0].pk, lambda event, prev: audit.compute_hash(event, prev, keyed=False))
    assert audit.verify_chain().broken_id == events[-1].pk


def test_a_fresh_database_needs_no_boundary():
    rekey_migration.rekey(django_apps, None)
    assert not AuditEvent.objects.exists()


def test_production_refuses_to_start_without_an_audit_chain_key():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "production-like-secret-" + "x" * 40,
    }
    env.pop("AUDIT_CHAIN_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "AUDIT_CHAIN_KEY must be set when DJANGO_DEBUG=0" in result.stderr
