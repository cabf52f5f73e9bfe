"""Soft-deleted users are removed for good when their restore window ends
(issue 26): a beat task, as the system actor, keeps their audit trail
scrubbed as `audit_scrub_user` does, audits the purge, and is idempotent
when two runs overlap. Time is moved forward rather than rows backdated."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from accounts import tasks
from accounts.models import User
from accounts.services import purge
from accounts.services import users as user_services
from accounts.services.users import RESTORE_WINDOW
from audit import services as audit
from audit.models import AuditEvent
from rbac.actor import Actor
from rbac.policies import PolicyDenied
from tests.conftest import make_user

REAL_NOW = timezone.now


@pytest.fixture
def later(monkeypatch):
    """`later(days)`: the clock moved that many days ahead, for everyone."""

    def move(days: float):
        moved = REAL_NOW() + dt.timedelta(days=days)
        monkeypatch.setattr(timezone, "now", lambda: moved)
        return moved

    return move


def deleted_member(owner, email="member@example.com", name="Mona Member"):
    user = make_user(email, name=name, phone="+33612345678")
    user_services.user_update(actor=owner, user=user, name=f"{name} Jr")
    user_services.user_ban(actor=owner, user=user, reason=f"{email} spammed")
    user_services.user_delete(actor=owner, user=user, reason="Left")
    return user


@pytest.mark.django_db
def test_beat_schedules_the_purge():
    entry = django_settings.CELERY_BEAT_SCHEDULE["users-purge-expired"]
    assert entry["task"] == "accounts.tasks.users_purge_expired"


@pytest.mark.django_db
def test_nothing_is_purged_within_the_restore_window(owner, later):
    member = deleted_member(owner)
    later(RESTORE_WINDOW.days - 1)
    assert tasks.users_purge_expired() == 0
    assert User.objects.filter(pk=member.pk).exists()
    # And it can still be restored then.
    user_services.user_restore(actor=owner, user=member)


@pytest.mark.django_db
def test_after_the_window_the_user_is_gone_the_trail_kept_scrubbed_and_audited(owner, later):
    member = deleted_member(owner)
    key = str(member.pk)
    about = AuditEvent.objects.filter(target_id=key).count()
    assert about >= 3  # edited, banned, deleted
    later(RESTORE_WINDOW.days + 1)
    assert tasks.users_purge_expired() == 1
    assert not User.objects.filter(pk=member.pk).exists()
    # The trail stays, with no personal data left in it.
    rows = AuditEvent.objects.filter(target_id=key).exclude(
        action__in=["accounts.user.purged", "audit.user.scrubbed"]
    )
    assert rows.count() == about
    for row in rows:
        text = f"{row.target_label} {row.reason} {row.changes}"
        assert "member@example.com" not in text and "Mona Member" not in text, text
        assert row.target_label == f"deleted user {key[:8]}"
    [scrub] = AuditEvent.objects.filter(action="audit.user.scrubbed", target_id=key)
    assert scrub.actor_id is None and scrub.actor_label == "system"
    [purged] = AuditEvent.objects.filter(action="accounts.user.purged")
    assert purged.actor_id is None and purged.actor_label == "system"
    assert purged.target_id == key and "member" not in purged.target_label
    assert purged.changes["events_scrubbed"] == scrub.changes["scrubbed"]
    assert audit.verify_chain().ok
    # A second run finds nothing to do.
    assert tasks.users_purge_expired() == 0
    assert AuditEvent.objects.filter(action="accounts.user.purged").count() == 1


@pytest.mark.django_db
def test_a_user_restored_or_never_deleted_is_left_alone(owner, admin_user, later):
    member = deleted_member(owner)
    user_services.user_restore(actor=owner, user=member)
    later(RESTORE_WINDOW.days + 5)
    assert tasks.users_purge_expired() == 0
    assert User.objects.filter(pk__in=[member.pk, admin_user.pk, owner.pk]).count() == 3


@pytest.mark.django_db
def test_a_person_cannot_purge_only_the_system(owner, admin_user, later):
    member = deleted_member(owner)
    later(RESTORE_WINDOW.days + 1)
    session = Actor.for_session(owner, "some-session")
    with pytest.raises(PolicyDenied) as refused:
        purge.user_purge(actor=session, user_id=member.pk)
    assert refused.value.code == "system_only"
    assert User.objects.filter(pk=member.pk).exists()
    denied = AuditEvent.objects.get(action="accounts.user.purged")
    assert denied.outcome == "denied" and denied.actor_id == owner.pk


@pytest.mark.django_db(transaction=True)
def test_a_row_another_run_holds_is_skipped_not_waited_on_nor_purged_twice(
    require_postgres, builtin_roles, later
):
    owner = make_user("owner@example.com", is_owner=True)
    first = deleted_member(owner, "first@example.com", "First")
    second = deleted_member(owner, "second@example.com", "Second")
    later(RESTORE_WINDOW.days + 1)
    # Another beat, on its own connection, is in the middle of purging `first`.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(**params)
    try:
        other.execute("SELECT 1 FROM accounts_user WHERE id = %s FOR UPDATE", [first.pk])
        assert tasks.users_purge_expired() == 1  # `second` only, without waiting
        assert User.objects.filter(pk=first.pk).exists()
        assert not User.objects.filter(pk=second.pk).exists()
    finally:
        other.rollback()
        other.close()
    assert tasks.users_purge_expired() == 1  # `first`, once the other run let go
    assert AuditEvent.objects.filter(action="accounts.user.purged").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_purge_each_user_exactly_once(require_postgres, builtin_roles, later):
    owner = make_user("owner@example.com", is_owner=True)
    users = [deleted_member(owner, f"u{i}@example.com", f"User {i}") for i in range(6)]
    later(RESTORE_WINDOW.days + 1)
    start = threading.Barrier(2)
    counts, errors = [], []

    def beat():
        try:
            start.wait()
            counts.append(tasks.users_purge_expired())
        except Exception as exc:  # pragma: no cover - the failure is reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(counts) == len(users)
    assert not User.objects.filter(pk__in=[u.pk for u in users]).exists()
    purged = AuditEvent.objects.filter(action="accounts.user.purged")
    assert sorted(purged.values_list("target_id", flat=True)) == sorted(str(u.pk) for u in users)
    assert audit.verify_chain().ok
