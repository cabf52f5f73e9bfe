"""Lock, then guard: a guard judges the target row as it is under the
service's lock, never a snapshot read before it. Each race runs on two real
PostgreSQL connections (a thread each): the first change holds the target's
row lock, the second action starts (from a copy read before the first
commits) and the first commits only once PostgreSQL shows the second
waiting for a lock -- the interleaving is forced, not left to timing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from accounts.models import User
from accounts.services.batch import batch_run
from accounts.services.users import user_ban
from audit.models import AuditEvent
from rbac import services
from rbac.models import Role
from rbac.permissions import TEMPLATES
from rbac.policies import PolicyDenied
from tests.conftest import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT_LIMIT = 10  # seconds the first transaction waits for the second to block


def _blocked_backends(cursor) -> int:
    """Other connections to this database waiting for a lock right now
    (the statistics snapshot is cleared first: inside a transaction
    PostgreSQL would otherwise answer from the first one it took)."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return cursor.fetchone()[0]


def _manager():
    return make_user(
        "manager@example.com", direct_permissions=sorted(TEMPLATES["manager"]["permissions"])
    )


def _race(first, second):
    """Run `first` inside a transaction, start `second` (on its own
    connection) once `first` has made its change, and commit `first` only
    once `second` is blocked on a row lock `first` holds. Returns (second's
    result or exception, whether `second` was seen blocked)."""
    changed = threading.Event()
    outcome: dict = {"blocked": False}
    errors: list = []

    def run_first():
        try:
            with transaction.atomic():
                first()
                changed.set()
                deadline = time.monotonic() + WAIT_LIMIT
                with connection.cursor() as cursor:
                    while time.monotonic() < deadline:
                        if _blocked_backends(cursor):
                            outcome["blocked"] = True
                            break
                        time.sleep(0.02)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            changed.set()
        finally:
            connection.close()

    def run_second():
        try:
            changed.wait(WAIT_LIMIT)
            try:
                outcome["result"] = second()
            except Exception as exc:
                outcome["result"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * WAIT_LIMIT)
    assert not errors, errors
    return outcome["result"], outcome["blocked"]


def test_ban_racing_an_ownership_transfer_never_lands_on_the_new_owner(
    require_postgres, owner, member
):
    manager = _manager()
    stale = User.objects.get(pk=member.pk)  # read before the transfer

    result, blocked = _race(
        lambda: services.ownership_transfer(actor=owner, target=User.objects.get(pk=member.pk)),
        lambda: user_ban(actor=manager, user=stale, reason="race"),
    )

    assert blocked, "the ban did not wait for the target's row lock"
    assert isinstance(result, PolicyDenied), result
    assert result.code == "owner_protected"
    new_owner = User.objects.get(pk=member.pk)
    assert new_owner.is_owner
    assert new_owner.banned_until is None
    denied = AuditEvent.objects.get(action="accounts.user.banned")
    assert (denied.outcome, denied.actor_id, denied.target_id) == (
        "denied",
        manager.pk,
        str(member.pk),
    )


def test_batch_disable_racing_a_promotion_skips_the_promoted_user(
    require_postgres, owner, member, viewer
):
    manager = _manager()
    other = make_user("other@example.com")
    admin_role = Role.objects.get(slug="admin")

    result, blocked = _race(
        lambda: services.user_role_assign(
            actor=owner, user=User.objects.get(pk=member.pk), role=admin_role
        ),
        lambda: batch_run(
            actor=manager, action="disable", user_ids=[viewer.pk, member.pk, other.pk]
        ),
    )

    assert blocked, "the batch did not wait for the promoted user's row lock"
    assert not isinstance(result, Exception), result
    outcomes = {item["user_id"]: (item["outcome"], item["reason"]) for item in result["items"]}
    assert outcomes[str(viewer.pk)] == ("processed", "")
    assert outcomes[str(other.pk)] == ("processed", "")
    assert outcomes[str(member.pk)][0] == "skipped"
    assert outcomes[str(member.pk)][1].startswith("You can only manage users whose permissions")
    assert User.objects.get(pk=member.pk).disabled_at is None
    assert User.objects.get(pk=viewer.pk).disabled_at is not None
    assert User.objects.get(pk=other.pk).disabled_at is not None
    denied = AuditEvent.objects.get(action="accounts.user.disabled", outcome="denied")
    assert denied.target_id == str(member.pk)


def test_role_edit_racing_an_ownership_transfer_never_changes_the_new_owners_power(
    require_postgres, owner, admin_user, member
):
    """Editing a role acts on every member: the guard must judge each member
    as it is under that member's row lock. Before the members were locked,
    an edit read its members before a transfer made one of them owner, and
    changed what the new owner's role held."""
    helpers = Role.objects.create(slug="helpers", name="Helpers", permissions=["users:read"])
    services.user_role_assign(actor=owner, user=member, role=helpers)

    result, blocked = _race(
        lambda: services.ownership_transfer(actor=owner, target=User.objects.get(pk=member.pk)),
        lambda: services.role_update(
            actor=admin_user, role=helpers, permissions=["users:read", "sessions:read"]
        ),
    )

    assert blocked, "the role edit did not wait for its member's row lock"
    assert isinstance(result, PolicyDenied), result
    assert User.objects.get(pk=member.pk).is_owner
    assert Role.objects.get(pk=helpers.pk).permissions == ["users:read"]
    denied = AuditEvent.objects.get(action="rbac.role.updated")
    assert (denied.outcome, denied.actor_id) == ("denied", admin_user.pk)


def test_role_delete_racing_an_ownership_transfer_never_touches_the_new_owner(
    require_postgres, owner, admin_user, member
):
    helpers = Role.objects.create(slug="helpers", name="Helpers", permissions=["users:read"])
    services.user_role_assign(actor=owner, user=member, role=helpers)

    result, blocked = _race(
        lambda: services.ownership_transfer(actor=owner, target=User.objects.get(pk=member.pk)),
        lambda: services.role_delete(actor=admin_user, role=helpers, confirm=True),
    )

    assert blocked, "the role delete did not wait for its member's row lock"
    assert isinstance(result, PolicyDenied), result
    assert Role.objects.filter(pk=helpers.pk).exists()


def test_key_revoke_racing_an_ownership_transfer_never_takes_the_new_owners_key(
    require_postgres, owner, admin_user, member
):
    from accounts.services.api_keys import api_key_create, api_key_revoke

    key, _raw = api_key_create(actor=owner, user=member, name="mine", scopes=["users:read"])
    member.refresh_from_db()
    stale = type(key).objects.select_related("user").get(pk=key.pk)

    result, blocked = _race(
        lambda: services.ownership_transfer(actor=owner, target=User.objects.get(pk=member.pk)),
        lambda: api_key_revoke(actor=admin_user, key=stale),
    )

    assert blocked, "the revoke did not wait for the key holder's row lock"
    assert isinstance(result, PolicyDenied), result
    key.refresh_from_db()
    assert key.revoked_at is None


def test_key_for_another_racing_an_ownership_transfer_is_refused(
    require_postgres, owner, admin_user, member
):
    from accounts.models import ApiKey
    from accounts.services.api_keys import api_key_create

    stale = User.objects.get(pk=member.pk)

    result, blocked = _race(
        lambda: services.ownership_transfer(actor=owner, target=User.objects.get(pk=member.pk)),
        lambda: api_key_create(actor=admin_user, user=stale, name="theirs", scopes=["users:read"]),
    )

    assert blocked, "the key creation did not wait for the owner-to-be's row lock"
    assert isinstance(result, PolicyDenied), result
    assert not ApiKey.objects.filter(user=member, name="theirs").exists()
