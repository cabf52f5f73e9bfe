"""Concurrent edits of one role on PostgreSQL: the row lock serialises them,
so neither edit is lost and each audit row shows the state it replaced."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from rbac import services
from rbac.models import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_edits_of_the_same_role_lose_no_update(require_postgres, owner):
    role = services.role_create(actor=owner, slug="support", name="Support")
    first_locked = threading.Event()
    errors = []

    def rename():
        try:
            with transaction.atomic():
                services.role_update(
                    actor=owner, role=Role.objects.get(pk=role.pk), name="Helpdesk"
                )
                first_locked.set()
                # Hold the row lock while the other edit starts.
                time.sleep(0.5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            first_locked.set()
        finally:
            connection.close()

    def regrant():
        try:
            first_locked.wait(5)
            stale = Role.objects.get(pk=role.pk)  # read before the rename commits
            assert stale.name == "Support"
            started = time.monotonic()
            services.role_update(actor=owner, role=stale, permissions=["users:read"])
            waited.append(time.monotonic() - started)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    waited: list[float] = []
    threads = [threading.Thread(target=rename), threading.Thread(target=regrant)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert waited and waited[0] >= 0.3, "the second edit did not wait for the row lock"
    role.refresh_from_db()
    assert role.name == "Helpdesk"
    assert role.permissions == ["users:read"]
    events = list(AuditEvent.objects.filter(action="rbac.role.updated").order_by("id"))
    assert [e.changes for e in events] == [
        {"name": ["Support", "Helpdesk"]},
        {"permissions": [[], ["users:read"]]},
    ]


def test_concurrent_assignments_of_the_same_role_create_one_membership(
    require_postgres, owner, admin_user, member
):
    barrier = threading.Barrier(2)
    results, errors = [], []
    editor = Role.objects.get(slug="editor")

    def assign(actor):
        try:
            barrier.wait(5)
            results.append(services.user_role_assign(actor=actor, user=member, role=editor))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(a,)) for a in (owner, admin_user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert sorted(results) == [False, True]
    assert AuditEvent.objects.filter(action="rbac.user_role.assigned").count() == 1
