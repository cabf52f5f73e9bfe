"""Each organization keeps at least one member who can manage its members
(members:manage there or globally), also when the change is account-wide:
banning, disabling, deleting or erasing that last manager, taking away the
global role or the direct grant that made them one, or editing or deleting
the role they hold it through. The owner being active does not help: the
owner is no member. The refusal names the organization."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.services import users as user_services
from audit.models import AuditEvent
from rbac import services
from rbac.actor import Actor
from rbac.models import Membership, Role, UserRole
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD, make_user, reauthenticate
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(world):
    return Actor.console(world["owner"])


def _refused(call, org_name: str):
    with pytest.raises(PolicyDenied) as exc:
        call()
    assert exc.value.code == "last_manager"
    assert org_name in exc.value.message
    return exc.value


def test_banning_the_last_manager_of_an_organization_is_refused_through_the_page(client_for, world):
    # Ada is Acme's only member who can manage its members; Alice and Bo remain.
    owner = client_for(world["owner"])
    response = owner.post(
        reverse("users:ban", args=[world["ada"].pk]),
        {"duration": "days", "amount": "3", "reason": "test"},
    )
    assert response.status_code in (403, 409)
    assert "Acme" in response.content.decode()
    world["ada"].refresh_from_db()
    assert world["ada"].status == "active"
    assert AuditEvent.objects.filter(
        action="accounts.user.banned", outcome="denied", reason__startswith="last_manager"
    ).exists()


@pytest.mark.parametrize(
    "act",
    [
        lambda a, u: user_services.user_ban(actor=a, user=u, reason="x"),
        lambda a, u: user_services.user_disable(actor=a, user=u),
        lambda a, u: user_services.user_delete(actor=a, user=u),
        lambda a, u: user_services.user_hard_delete(actor=a, user=u, confirm_email=u.email),
    ],
    ids=["ban", "disable", "delete", "hard-delete"],
)
def test_an_account_wide_change_may_not_leave_an_organization_unmanaged(world, console, act):
    _refused(lambda: act(console, world["ada"]), "Acme")
    world["ada"].refresh_from_db()
    assert world["ada"].status == "active"


def test_with_another_manager_the_change_goes_through(world, console):
    second = make_user("second@acme.example", name="Second Admin")
    join(second, world["acme"], "org-admin")
    user_services.user_ban(actor=console, user=world["ada"], reason="x")
    world["ada"].refresh_from_db()
    assert world["ada"].status == "banned"
    # ... and then the second one is the last.
    _refused(lambda: user_services.user_disable(actor=console, user=second), "Acme")


def test_an_organization_with_no_other_member_does_not_hold_its_last_manager(world, console):
    for user in (world["alice"], world["both"]):
        Membership.objects.filter(user=user, organization=world["acme"]).delete()
        UserRole.objects.filter(user=user, organization=world["acme"]).delete()
    user_services.user_ban(actor=console, user=world["ada"], reason="x")


@pytest.fixture
def global_manager(world):
    """Acme's only manager holds members:manage through a global role,
    and Ada becomes a plain member."""
    UserRole.objects.filter(user=world["ada"], organization=world["acme"]).delete()
    boss_role = Role.objects.create(slug="boss", name="Boss", permissions=["members:manage"])
    carl = make_user("carl@acme.example", name="Carl")
    Membership.objects.create(user=carl, organization=world["acme"])
    UserRole.objects.create(user=carl, role=boss_role)
    return carl, boss_role


def test_removing_the_global_role_that_made_the_last_manager_is_refused(
    world, console, global_manager
):
    carl, boss_role = global_manager
    _refused(lambda: services.user_role_remove(actor=console, user=carl, role=boss_role), "Acme")
    assert UserRole.objects.filter(user=carl, role=boss_role).exists()


def test_revoking_the_direct_grant_that_made_the_last_manager_is_refused(world, console):
    UserRole.objects.filter(user=world["ada"], organization=world["acme"]).delete()
    dora = make_user("dora@acme.example", name="Dora")
    dora.direct_permissions = ["members:manage"]
    dora.save(update_fields=["direct_permissions"])
    Membership.objects.create(user=dora, organization=world["acme"])
    _refused(
        lambda: services.user_permissions_update(
            actor=console, user=dora, revoke=["members:manage"]
        ),
        "Acme",
    )


def test_editing_or_deleting_the_role_that_made_the_last_manager_is_refused(
    world, console, global_manager
):
    _carl, boss_role = global_manager
    _refused(
        lambda: services.role_update(actor=console, role=boss_role, permissions=["users:read"]),
        "Acme",
    )
    _refused(lambda: services.role_delete(actor=console, role=boss_role, confirm=True), "Acme")
    boss_role.refresh_from_db()
    assert boss_role.permissions == ["members:manage"]


def test_the_refusal_reaches_the_api(world, call):
    from accounts.services.api_keys import api_key_create

    _k, raw = api_key_create(actor=world["owner"], name="t", template="full_access")
    status, body, _ = call(
        "POST",
        f"/api/admin/users/{world['ada'].pk}/disable",
        {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        {"reason": "x"},
    )
    assert status == 409 and body["error"] == "last_manager"
    assert "Acme" in body["detail"]


def test_a_global_manager_in_the_organization_keeps_it_managed(world, console, admin_user):
    # A member holding members:manage globally (an administrator) counts.
    Membership.objects.create(user=admin_user, organization=world["acme"])
    user_services.user_ban(actor=console, user=world["ada"], reason="x")


def test_a_batch_skips_the_last_manager_and_says_why(world):
    from accounts.services.batch import batch_run

    ids = [world["ada"].pk, world["alice"].pk]
    result = batch_run(actor=world["owner"], action="ban", user_ids=ids)
    assert result["processed"] == 1
    world["ada"].refresh_from_db()
    world["alice"].refresh_from_db()
    assert world["ada"].status == "active" and world["alice"].status == "banned"
    assert "Acme" in str(result)


def test_a_batch_asks_who_manages_among_its_own_users_and_no_one_else(
    world, django_assert_num_queries
):
    """Inside a batch the question "who of them manages members" is asked
    once, for the batch's users (asked for everyone it read every
    membership: 1.7 s at a million users); a later question about someone
    the first did not cover is asked again, never answered from it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rbac import policies
    from rbac.policies import managers

    batch = [world["alice"].pk, world["both"].pk]
    with policies.owner_status_fixed():
        with CaptureQueriesContext(connection) as asked:
            assert managers._managers_among(batch) == set()
        (sql,) = [q["sql"] for q in asked.captured_queries]
        assert all(str(pk).replace("-", "") in sql.replace("-", "") for pk in batch)
        with django_assert_num_queries(0):
            assert managers._managers_among([world["alice"].pk]) == set()
        assert managers._managers_among([world["ada"].pk]) == {world["ada"].pk}


# --- ownership transfer ------------------------------------------------------


@pytest.fixture
def owner_manages_acme(world):
    """The owner is a member of Acme and its only member able to manage its
    members (being the owner); Ada is a plain member there now. The admin
    role, which the old owner keeps after a transfer, has been edited not
    to carry members:manage -- so giving ownership away would leave Acme
    with members and nobody to manage them."""
    owner = world["owner"]
    Membership.objects.create(user=owner, organization=world["acme"])
    UserRole.objects.filter(user=world["ada"], organization=world["acme"]).delete()
    admin = Role.objects.get(slug="admin")
    admin.permissions = sorted(set(admin.permissions) - {"members:manage"})
    admin.save(update_fields=["permissions"])
    return owner


def test_transferring_ownership_away_from_an_organizations_last_manager_is_refused_on_the_page(
    client_for, world, owner_manages_acme
):
    client = client_for(owner_manages_acme)
    reauthenticate(client)
    response = client.post(
        reverse("roles:ownership_transfer"),
        {"target": str(world["loner"].pk), "password": STRONG_PASSWORD},
    )
    assert response.status_code in (403, 409)
    body = response.content.decode()
    assert "nobody in Acme able to manage its members" in body
    owner_manages_acme.refresh_from_db()
    world["loner"].refresh_from_db()
    assert owner_manages_acme.is_owner and not world["loner"].is_owner
    assert AuditEvent.objects.filter(
        action="rbac.ownership.transferred", outcome="denied", reason__startswith="last_manager"
    ).exists()


def test_transferring_ownership_away_from_an_organizations_last_manager_is_refused_in_the_api(
    world, owner_manages_acme, call
):
    from accounts.services.api_keys import api_key_create

    _k, raw = api_key_create(actor=owner_manages_acme, name="t", template="full_access")
    status, body, _ = call(
        "POST",
        "/api/admin/users/transfer-super",
        {"HTTP_AUTHORIZATION": f"Bearer {raw}"},
        {"target_user_id": str(world["loner"].pk), "current_password": STRONG_PASSWORD},
    )
    assert status == 409 and body["error"] == "last_manager", body
    assert "Acme" in body["detail"]
    owner_manages_acme.refresh_from_db()
    assert owner_manages_acme.is_owner


def test_ownership_may_go_to_a_member_who_then_manages_the_organization(world, owner_manages_acme):
    # Alice is in Acme: as the new owner she manages its members.
    services.ownership_transfer(
        actor=Actor.console(owner_manages_acme), target=world["alice"], password=STRONG_PASSWORD
    )
    world["alice"].refresh_from_db()
    assert world["alice"].is_owner


def test_ownership_may_go_anywhere_while_the_old_owner_keeps_managing(world, console):
    # The admin role the old owner keeps carries members:manage (as built in).
    Membership.objects.create(user=world["owner"], organization=world["acme"])
    UserRole.objects.filter(user=world["ada"], organization=world["acme"]).delete()
    services.ownership_transfer(actor=console, target=world["loner"], password=STRONG_PASSWORD)
    world["loner"].refresh_from_db()
    assert world["loner"].is_owner


def test_what_a_ban_locks_is_what_the_general_question_answers(world, owner):
    """`organizations_at_stake` of accounts that stop acting, outside a
    batch, reads memberships and roles separately (cheaper for the ORM to
    write); for every kind of account -- the owner in an organization, a
    direct grant (in any letter case), a role held anywhere, a plain member
    of two organizations, someone in none, and pairs of them -- it answers
    what asking who manages members and then their organizations does."""
    from rbac.policies import managers

    join(world["owner"], world["globex"])
    direct = make_user("dee@acme.example", direct_permissions=["Members:Manage"])
    join(direct, world["acme"])
    held_elsewhere = make_user("hal@globex.example")
    join(held_elsewhere, world["globex"])
    UserRole.objects.create(
        user=held_elsewhere, role=Role.objects.get(slug="org-admin"), organization=world["acme"]
    )
    people = [
        world["owner"], world["ada"], world["alice"], world["both"], world["loner"], direct,
        held_elsewhere,
    ]  # fmt: skip
    groups = [[p.pk] for p in people] + [
        [world["alice"].pk, world["both"].pk],
        [world["alice"].pk, world["ada"].pk],
        [world["both"].pk, world["ada"].pk],
        [world["loner"].pk, direct.pk],
    ]
    answers = []
    for ids in groups:
        general = (
            managers._candidates(ids, {}, []) if managers._may_lose_a_manager(ids, {}, []) else []
        )
        assert managers.organizations_at_stake(exclude_user_ids=ids) == general, ids
        answers.append(general)
    # The cases are not all alike: some lock nothing, some one, some two.
    assert {len(a) for a in answers} == {0, 1, 2}
