"""How many statements a ban and an unban run (issue 29: audited mutations
per second). Each is part of what one audited write costs in client CPU
(the ORM compiling it) and in the database; an added one shows up here.
Counted in a test's transaction: the service's atomic block is a
SAVEPOINT and its RELEASE here, BEGIN and COMMIT in production."""

from __future__ import annotations

import pytest

from accounts.services import users as user_services
from rbac.actor import Actor
from rbac.models import Role, UserRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(world):
    return Actor.console(world["owner"])


def test_banning_someone_in_no_organization(console, world, django_assert_num_queries):
    # SAVEPOINT; the user locked; who of them manages an organization's
    # members (asked once: the guard counts what the service locked); the
    # owner's status; the update; open sessions and live keys (one UNION
    # ALL); one-time links spent; the audit event; the webhook endpoints;
    # the notice; RELEASE.
    with django_assert_num_queries(11):
        user_services.user_ban(actor=console, user=world["loner"], reason="x")


def test_unbanning(console, world, django_assert_num_queries):
    user_services.user_ban(actor=console, user=world["loner"], reason="x")
    # SAVEPOINT; the user locked; the update; the audit event; the webhook
    # endpoints; RELEASE.
    with django_assert_num_queries(6):
        user_services.user_unban(actor=console, user=world["loner"], reason="x")


def test_banning_a_manager_counts_the_organizations_it_locked(
    console, world, django_assert_num_queries
):
    # Alice manages Acme's members too, so banning Ada leaves Acme managed:
    # Acme is looked up and locked once, and the guard counts its managers
    # there without looking the organizations up again.
    UserRole.objects.create(
        user=world["alice"], role=Role.objects.get(slug="org-admin"), organization=world["acme"]
    )
    with django_assert_num_queries(17):
        user_services.user_ban(actor=console, user=world["ada"], reason="x")
    world["ada"].refresh_from_db()
    assert world["ada"].status == "banned"
