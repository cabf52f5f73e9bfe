"""Tamper evidence, retention and erasure: the hash chain verifies, breaks
visibly when history is altered, and survives the two dedicated paths."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _events(n, action="tests.chain", **kwargs):
    """`n` events, sealed into the chain (as the sealer does after commit)."""
    ids = [audit.record(action, reason=f"event {i}", **kwargs).pk for i in range(n)]
    assert audit.seal() == n
    return list(AuditEvent.objects.filter(pk__in=ids).order_by("seq"))


def _sealed(event):
    audit.seal()
    return AuditEvent.objects.get(pk=event.pk)


def _at(monkeypatch, when):
    monkeypatch.setattr(audit.timezone, "now", lambda: when)


def _raw(sql, params=()):
    """Run SQL as someone with database access, the trigger switched off
    (ALTER TABLE is transactional: the test's rollback restores it)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_an_untouched_chain_verifies():
    _events(5)
    report = audit.verify_chain(chunk_size=2)
    assert report.ok and report.checked == 5
    out = call_command_output("audit_verify")
    assert "Audit chain intact: 5 events verified." in out


def call_command_output(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_raw_update_breaks_the_chain_at_that_event(require_postgres):
    events = _events(5)
    tampered = events[2]
    _raw("UPDATE audit_auditevent SET reason = 'nothing to see' WHERE id = %s", [tampered.pk])
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken_id == tampered.pk
    assert report.checked == 2
    with pytest.raises(CommandError) as exc:
        call_command("audit_verify")
    assert str(exc.value) == (
        f"Audit chain broken at event {tampered.pk}: its content does not match its hash "
        "(the row was altered, or AUDIT_CHAIN_KEY is not the key the chain was written with)."
    )


@pytest.mark.parametrize(
    "total, deleted, problem",
    [
        pytest.param(4, 1, "previous-hash does not match", id="in-the-middle"),
        pytest.param(3, 0, "no prune checkpoint accounts for", id="the-oldest-outside-prune"),
    ],
)
def test_a_raw_delete_is_detected_and_names_the_next_event(
    require_postgres, total, deleted, problem
):
    events = _events(total)
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[deleted].pk])
    report = audit.verify_chain()
    assert report.broken_id == events[deleted + 1].pk
    assert problem in report.problem


def test_a_rewritten_hash_is_detected_even_if_recomputed_for_one_row(require_postgres):
    events = _events(3)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.reason = "forged"
    new_hash = audit.compute_hash(forged, forged.prev_hash)
    _raw(
        "UPDATE audit_auditevent SET reason = 'forged', hash = %s WHERE id = %s",
        [new_hash, forged.pk],
    )
    assert audit.verify_chain().broken_id == events[2].pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain(require_postgres):
    errors = []

    def writer(name):
        try:
            for i in range(20):
                with transaction.atomic():
                    audit.record("tests.concurrent", reason=f"{name} {i}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # The writers' nudges may still be sealing in a worker: seal what is left
    # (waiting for the sealer's lock) before reading the chain.
    audit.seal(wait=True)
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == 40 == len(set(prev_hashes))
    assert audit.verify_chain().ok


# --- retention ------------------------------------------------------------------


def test_prune_removes_old_events_and_the_chain_still_verifies(monkeypatch):
    now = timezone.now()
    _at(monkeypatch, now - dt.timedelta(days=400))
    old = _events(3, action="tests.old")
    _at(monkeypatch, now)
    kept = _events(2, action="tests.new")
    checkpoint = _sealed(audit.prune_before(actor=None, before=now - dt.timedelta(days=365)))
    assert not AuditEvent.objects.filter(action="tests.old").exists()
    assert AuditEvent.objects.filter(action="tests.new").count() == 2
    assert checkpoint.action == "audit.log.pruned"
    assert checkpoint.changes["removed"] == 3
    assert checkpoint.changes["chained_from"] == old[-1].hash == kept[0].prev_hash
    assert checkpoint.prev_hash == kept[-1].hash
    report = audit.verify_chain()
    assert report.ok and report.checked == 3


def test_prune_twice_and_everything_still_verifies(monkeypatch):
    now = timezone.now()
    for days in (300, 200, 100):
        _at(monkeypatch, now - dt.timedelta(days=days))
        _events(2, action=f"tests.age{days}")
    _at(monkeypatch, now)
    audit.prune_before(before=now - dt.timedelta(days=250))
    audit.seal()
    audit.prune_before(before=now - dt.timedelta(days=150))
    audit.seal()
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "tests.age100",
        "audit.log.pruned",
    }
    assert AuditEvent.objects.filter(action="audit.log.pruned").count() == 2
    assert audit.verify_chain().ok


def test_prune_with_nothing_old_enough_changes_nothing():
    _events(2)
    assert audit.prune_before(before=timezone.now() - dt.timedelta(days=1)) is None
    assert AuditEvent.objects.count() == 2


def test_audit_prune_command(monkeypatch):
    now = timezone.now()
    _at(monkeypatch, now - dt.timedelta(days=40))
    _events(4, action="tests.old")
    _at(monkeypatch, now)
    _events(1)
    day = (now - dt.timedelta(days=10)).date().isoformat()
    out = call_command_output("audit_prune", "--before", day)
    assert f"Removed 4 audit events created before {day} 00:00 UTC" in out
    audit.seal()
    assert audit.verify_chain().ok
    with pytest.raises(CommandError, match="--before must be a date like 2024-01-31"):
        call_command("audit_prune", "--before", "yesterday")


def test_retention_setting_prunes_through_the_beat_task(monkeypatch, settings):
    from audit.tasks import audit_prune_expired

    now = timezone.now()
    _at(monkeypatch, now - dt.timedelta(days=100))
    _events(2, action="tests.old")
    _at(monkeypatch, now)
    settings.AUDIT_RETENTION_DAYS = 90
    assert audit_prune_expired() == 2
    audit.seal()
    assert audit.verify_chain().ok


def test_prune_works_under_the_postgres_trigger(require_postgres, monkeypatch):
    now = timezone.now()
    _at(monkeypatch, now - dt.timedelta(days=10))
    _events(2)
    _at(monkeypatch, now)
    assert audit.prune_before(before=now - dt.timedelta(days=5)).changes["removed"] == 2
    # ...and the bypass flag ended with that transaction.
    event = audit.record("tests.after")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])


# --- erasure ----------------------------------------------------------------------


def _soft_delete(user):
    # The users area's user_delete does this; the audit area needs only the state.
    type(user).objects.filter(pk=user.pk).update(deleted_at=timezone.now())
    user.refresh_from_db()


def test_scrub_erases_a_deleted_users_personal_data_and_the_chain_verifies(owner, member):
    from audit import context

    token = context.set_current(context.RequestContext(ip="192.0.2.10", user_agent="Mona's phone"))
    try:
        audit.record("accounts.login.succeeded", actor=member, target=member)
    finally:
        context.reset(token)
    audit.record(
        "accounts.user.updated",
        actor=owner,
        target=member,
        reason="Asked by member@example.com",
        changes={"name": ["Mona", "Mona Member"], "email": ["m@old.example", "member@example.com"]},
    )
    unrelated = audit.record("tests.other", actor=owner, target=owner)
    _soft_delete(member)

    audit.seal()
    event = _sealed(audit.audit_scrub_user(actor=owner, user_id=member.pk))

    assert event.action == "audit.user.scrubbed"
    assert event.changes["scrubbed"] == 2
    assert event.target_label == f"deleted user {str(member.pk)[:8]}"
    rows = list(AuditEvent.objects.filter(target_id=str(member.pk)).exclude(pk=event.pk))
    dump = repr(
        [(r.actor_label, r.target_label, r.reason, r.changes, r.ip, r.user_agent) for r in rows]
    )
    for personal in ("member@example.com", "Mona", "192.0.2.10", "Mona's phone", "m@old.example"):
        assert personal not in dump
    assert personal not in repr(event.changes)
    assert AuditEvent.objects.get(pk=unrelated.pk).actor_label == owner.email
    assert audit.verify_chain().ok


def test_scrub_refuses_a_user_who_is_not_deleted(owner, member):

    with pytest.raises(ValidationError) as exc:
        audit.audit_scrub_user(actor=owner, user_id=member.pk)
    assert exc.value.messages == [
        "Only a deleted user's personal data can be scrubbed; delete the user first."
    ]
    # Invalid input, asked after the guard: not a refusal, nothing denied.
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed").exists()


def test_scrub_refuses_a_user_out_of_reach_before_saying_whether_they_are_deleted(
    owner, admin_user
):
    """Validation after the guard: a manager asking about the (live) admin
    is refused by the hierarchy, not told the admin is not deleted."""
    from rbac.permissions import TEMPLATES
    from rbac.policies import PolicyDenied
    from tests.conftest import make_user

    manager = make_user(
        "manager@example.com", direct_permissions=sorted(TEMPLATES["manager"]["permissions"])
    )
    with pytest.raises(PolicyDenied) as exc:
        audit.audit_scrub_user(actor=manager, user_id=admin_user.pk)
    assert exc.value.code == "hierarchy"


def test_scrub_needs_users_delete(viewer, member):
    from rbac.policies import PolicyDenied

    _soft_delete(member)
    with pytest.raises(PolicyDenied, match="You need the permission users:delete to do this."):
        audit.audit_scrub_user(actor=viewer, user_id=member.pk)


def test_a_scrubbed_row_altered_afterwards_is_still_detected(require_postgres, owner, member):
    audit.record("tests.about", actor=owner, target=member)
    audit.record("tests.later")
    audit.seal()
    _soft_delete(member)
    audit.audit_scrub_user(actor=owner, user_id=member.pk)
    audit.seal()
    row = AuditEvent.objects.filter(action="tests.about").get()
    _raw("UPDATE audit_auditevent SET reason = 'edited' WHERE id = %s", [row.pk])
    assert audit.verify_chain().broken_id == row.pk


def test_the_scrub_flag_never_lets_the_hash_links_change(require_postgres, owner):
    event = audit.record("tests.x")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL handover.audit_scrub = 'on'")
        cursor.execute("UPDATE audit_auditevent SET hash = 'x' WHERE id = %s", [event.pk])
