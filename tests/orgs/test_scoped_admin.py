"""Organizations through the real doors: a grant held in an organization
applies to that organization's members; an account-wide action needs it
over every organization the target belongs to; a scoped administrator
never sees anyone outside (404), never hands out global roles, and each
organization keeps someone who can manage its members."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F
from django.urls import reverse

from audit.models import AuditEvent
from rbac import services
from rbac.actor import Actor
from rbac.models import Membership, Organization, Role, UserRole
from rbac.policies import PolicyDenied
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db


def _ban(client, user):
    return client.post(
        reverse("users:ban", args=[user.pk]),
        {"duration": "days", "amount": "3", "reason": "spam"},
    )


def test_a_scoped_admin_bans_a_member_of_their_organization_only(client_for, world):
    client = client_for(world["ada"])
    assert _ban(client, world["alice"]).status_code == 302
    world["alice"].refresh_from_db()
    assert world["alice"].status == "banned"


def test_a_member_of_two_organizations_needs_both_and_the_refusal_names_the_other(
    client_for, world
):
    client = client_for(world["ada"])
    response = _ban(client, world["both"])
    assert response.status_code == 403
    assert "you lack it in Globex" in response.content.decode()
    world["both"].refresh_from_db()
    assert world["both"].status != "banned"
    denied = AuditEvent.objects.get(action="accounts.user.banned", outcome="denied")
    assert denied.target_id == str(world["both"].pk)
    # Removing the membership is the organization administrator's own way.
    assert services.member_remove(
        actor=Actor.for_session(world["ada"], "s"), organization=world["acme"], user=world["both"]
    )
    assert not Membership.objects.filter(user=world["both"], organization=world["acme"]).exists()
    assert Membership.objects.filter(user=world["both"], organization=world["globex"]).exists()


def test_outside_the_scope_a_user_does_not_exist(client_for, world):
    client = client_for(world["ada"])
    for outsider in ("gil", "loner"):
        target = world[outsider]
        assert client.get(reverse("users:detail", args=[target.pk])).status_code == 404
        assert _ban(client, target).status_code == 404
    listed = client.get(reverse("users:list"))
    emails = {u.email for u in listed.context["page"].users}
    assert emails == {"ada@acme.example", "alice@acme.example", "bo@both.example"}
    searched = client.get(reverse("users:list"), {"q": "example"})
    assert {u.email for u in searched.context["page"].users} == emails


def test_a_global_admin_still_reaches_and_manages_everyone(client_for, world, admin_user):
    client = client_for(admin_user)
    assert _ban(client, world["both"]).status_code == 302
    assert _ban(client, world["loner"]).status_code == 302


def test_a_scoped_admin_cannot_hand_out_global_roles_or_grants(world):
    ada = Actor.for_session(world["ada"], "s")
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(
            actor=ada, user=world["alice"], role=Role.objects.get(slug="member")
        )
    assert exc.value.code == "permission_denied"
    with pytest.raises(PolicyDenied):
        services.organization_create(actor=ada, slug="evil", name="Evil")
    # Inside the organization: yes, within what they hold there.
    viewer = Role.objects.get(slug="viewer")
    assert services.org_role_assign(
        actor=ada, organization=world["acme"], user=world["alice"], role=viewer
    )
    admin = Role.objects.get(slug="admin")
    with pytest.raises(PolicyDenied) as exc:
        services.org_role_assign(
            actor=ada, organization=world["acme"], user=world["alice"], role=admin
        )
    assert exc.value.code == "escalation"
    # Not in someone else's organization.
    with pytest.raises(PolicyDenied) as exc:
        services.org_role_assign(
            actor=ada, organization=world["globex"], user=world["both"], role=viewer
        )
    assert exc.value.code == "permission_denied"


def test_each_organization_keeps_someone_who_manages_its_members(world, owner):
    # The owner removes Acme's only administrator while members remain: refused.
    with pytest.raises(PolicyDenied) as exc:
        services.org_role_remove(
            actor=owner,
            organization=world["acme"],
            user=world["ada"],
            role=Role.objects.get(slug="org-admin"),
        )
    assert exc.value.code == "last_manager"
    with pytest.raises(PolicyDenied):
        services.member_remove(actor=owner, organization=world["acme"], user=world["ada"])


def test_an_organization_with_members_is_not_deleted(world, owner):
    with pytest.raises(ValidationError) as exc:
        services.organization_delete(actor=owner, organization=world["acme"])
    assert exc.value.code == "has_members"
    empty = services.organization_create(actor=owner, slug="empty", name="Empty")
    services.organization_delete(actor=owner, organization=empty)
    assert not Organization.objects.filter(slug="empty").exists()


def test_a_user_in_no_organization_is_brought_in_only_globally(world, owner):
    ada = Actor.for_session(world["ada"], "s")
    with pytest.raises(PolicyDenied) as exc:
        services.member_add(actor=ada, organization=world["acme"], user=world["loner"])
    assert exc.value.code == "organization_scope"
    services.member_add(
        actor=owner, organization=world["acme"], user=world["loner"], roles=["member"]
    )
    assert Membership.objects.filter(user=world["loner"], organization=world["acme"]).exists()


def test_a_role_held_in_an_organization_confers_only_scopable_permissions(world):
    join(world["alice"], world["globex"], "admin")
    actor = Actor.for_session(world["alice"], "s")
    assert "roles:create" not in actor.permissions
    assert "users:ban" in actor.permissions_in(world["globex"])
    assert "users:ban" not in actor.global_permissions


def test_a_role_held_where_the_user_is_no_longer_a_member_confers_nothing(world):
    """`user_grants` counts a role held in an organization only while the
    user is a member there, which is why an actor acting as itself is one of
    the members it sees (`Actor.sole_organization_id`)."""
    assert Actor.for_session(world["ada"], "s").organization_ids == {world["acme"].pk}
    Membership.objects.filter(user=world["ada"], organization=world["acme"]).delete()
    assert UserRole.objects.filter(user=world["ada"], organization=world["acme"]).exists()
    ada = Actor.for_session(world["ada"], "s")
    assert ada.organization_ids == frozenset() and ada.permissions == frozenset()
    assert ada.sole_organization_id is None


def test_seed_demo_spreads_users_across_organizations(builtin_roles, settings):
    import io

    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo", users=60, organizations=4, stdout=io.StringIO())
    call_command("seed_demo", users=60, organizations=4, stdout=io.StringIO())  # idempotent
    assert Organization.objects.filter(slug__startswith="demo-").count() == 4
    per_user = {}
    for user_id in Membership.objects.values_list("user_id", flat=True):
        per_user[user_id] = per_user.get(user_id, 0) + 1
    assert len(per_user) == 60 and set(per_user.values()) == {1, 2}
    # Each membership has its user's creation time (bulk_create skips `save`).
    assert not Membership.objects.exclude(user_created_at=F("user__created_at")).exists()
    admins = UserRole.objects.filter(role__slug="org-admin", organization__isnull=False)
    assert admins.count() == 4
