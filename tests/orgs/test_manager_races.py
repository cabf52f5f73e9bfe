"""Services lock, guards read: two administrators taking away an
organization's last two managers at once, on two real PostgreSQL
connections. The service locks the organizations at stake (users by id,
then organizations by id, then roles) before its keep-a-manager guard
counts their managers, so the second change waits for the first to commit,
then counts again and is refused -- whichever kind of change each is (an
account-wide one, the organization's own, a grant or a role taken away).
The interleaving is forced: the first commits only once PostgreSQL shows
the second waiting for a lock."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from accounts.models import User
from accounts.services import actions
from accounts.services.batch import batch_run
from accounts.services.users import user_ban, user_disable
from audit import events
from audit.models import AuditEvent
from rbac import services
from rbac.actor import Actor
from rbac.models import Membership, Role, UserRole
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD, make_user
from tests.orgs.conftest import join
from tests.rbac.test_lock_then_guard import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console(world):
    return Actor.console(world["owner"])


@pytest.fixture
def sam(world):
    """Acme's second manager, beside Ada."""
    sam = make_user("sam@acme.example", name="Sam Second")
    join(sam, world["acme"], "org-admin")
    return sam


def _refused_after_waiting(result, blocked, action):
    assert blocked, "the second change did not wait for the organization's lock"
    assert isinstance(result, PolicyDenied), result
    assert result.code == "last_manager"
    assert "Acme" in result.message
    assert AuditEvent.objects.filter(action=action, outcome="denied").count() == 1


def test_banning_and_disabling_acmes_last_two_managers_at_once_leaves_one(
    require_postgres, world, console, sam
):
    stale = User.objects.get(pk=sam.pk)  # read before the ban commits
    result, blocked = _race(
        lambda: user_ban(actor=console, user=world["ada"], reason="race"),
        lambda: user_disable(actor=console, user=stale),
    )
    _refused_after_waiting(result, blocked, events.USER_DISABLED)
    assert User.objects.get(pk=world["ada"].pk).status == "banned"
    assert User.objects.get(pk=sam.pk).status == "active"


def test_removing_a_member_racing_a_revoked_grant_leaves_one_manager(
    require_postgres, world, console
):
    # Dora manages Acme through a direct (global) grant, Ada through her role there.
    dora = make_user("dora@acme.example", name="Dora", direct_permissions=["members:manage"])
    Membership.objects.create(user=dora, organization=world["acme"])
    result, blocked = _race(
        lambda: services.member_remove(
            actor=console, organization=world["acme"], user=world["ada"]
        ),
        lambda: services.user_permissions_update(
            actor=console, user=User.objects.get(pk=dora.pk), revoke=["members:manage"]
        ),
    )
    _refused_after_waiting(result, blocked, events.USER_PERMISSIONS_UPDATED)
    assert not Membership.objects.filter(user=world["ada"], organization=world["acme"]).exists()
    assert User.objects.get(pk=dora.pk).direct_permissions == ["members:manage"]


def test_editing_a_role_racing_a_ban_leaves_one_manager(require_postgres, world, console):
    # Carl manages Acme through a global role; the edit takes the permission from it.
    boss = Role.objects.create(slug="boss", name="Boss", permissions=["members:manage"])
    carl = make_user("carl@acme.example", name="Carl")
    Membership.objects.create(user=carl, organization=world["acme"])
    UserRole.objects.create(user=carl, role=boss)
    result, blocked = _race(
        lambda: services.role_update(actor=console, role=boss, permissions=["users:read"]),
        lambda: user_ban(actor=console, user=User.objects.get(pk=world["ada"].pk), reason="x"),
    )
    _refused_after_waiting(result, blocked, events.USER_BANNED)
    assert Role.objects.get(pk=boss.pk).permissions == ["users:read"]
    assert User.objects.get(pk=world["ada"].pk).status == "active"


def test_an_ownership_transfer_racing_a_ban_leaves_one_manager(require_postgres, world, console):
    # The owner is in Acme and manages it by being the owner; the admin role
    # the owner keeps after a transfer no longer carries members:manage.
    owner = world["owner"]
    Membership.objects.create(user=owner, organization=world["acme"])
    admin = Role.objects.get(slug="admin")
    admin.permissions = sorted(set(admin.permissions) - {"members:manage"})
    admin.save(update_fields=["permissions"])
    result, blocked = _race(
        lambda: user_ban(actor=console, user=world["ada"], reason="race"),
        lambda: services.ownership_transfer(
            actor=Actor.console(User.objects.get(pk=owner.pk)),
            target=User.objects.get(pk=world["loner"].pk),
            password=STRONG_PASSWORD,
        ),
    )
    _refused_after_waiting(result, blocked, events.OWNERSHIP_TRANSFERRED)
    assert User.objects.get(is_owner=True).pk == owner.pk


def _locked_elsewhere(org_ids) -> dict:
    """{organization id: whether another transaction holds its row lock},
    asked from a connection of its own (NOWAIT: never waits)."""
    found: dict = {}

    def ask():
        from django.db import OperationalError, connection, transaction

        try:
            for pk in org_ids:
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT 1 FROM rbac_organization WHERE id = %s FOR UPDATE NOWAIT", [pk]
                        )
                    found[pk] = False
                except OperationalError:
                    found[pk] = True
        finally:
            connection.close()

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join(10)
    return found


def test_a_batch_locks_every_organization_at_stake_in_order_before_its_first_change(
    require_postgres, world, console, monkeypatch
):
    # Gail (the lower user id) manages Globex, Abe manages Acme (the lower
    # organization id): one user at a time, the batch would lock Globex and
    # then Acme, against the order a single change takes (Acme, Globex), and
    # the two could deadlock. The batch takes both, in id order, up front.
    gail, abe = sorted(
        [make_user("gail@globex.example", name="Gail"), make_user("abe@acme.example", name="Abe")],
        key=lambda user: user.pk,
    )
    join(gail, world["globex"], "org-admin")
    join(abe, world["acme"], "org-admin")
    assert world["acme"].pk < world["globex"].pk
    declared = actions.USER_ACTIONS["ban"]
    seen: list = []

    def first_change_sees(**kwargs):
        if not seen:
            seen.append(_locked_elsewhere([world["acme"].pk, world["globex"].pk]))
        return declared.service(**kwargs)

    monkeypatch.setitem(
        actions.USER_ACTIONS, "ban", dataclasses.replace(declared, service=first_change_sees)
    )
    result = batch_run(actor=console, action="ban", user_ids=[gail.pk, abe.pk], params={})
    assert result["processed"] == 2, result
    assert seen == [{world["acme"].pk: True, world["globex"].pk: True}]
