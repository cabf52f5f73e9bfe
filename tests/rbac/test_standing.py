"""Guards asked once per kind of row (`rbac.policies.standing`, issue 29):
the same answers as asking each user, and the list asks them once per
standing."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.views.user_actions import PAGE_ACTIONS
from rbac import policies
from rbac.actor import Actor
from rbac.policies import accounts as account_guards
from rbac.policies import base
from rbac.selectors import prime_holdings
from tests.conftest import make_user
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db


def _marked():
    return [
        guard
        for _, guard in inspect.getmembers(account_guards, inspect.isfunction)
        if getattr(guard, "judges_standing", False)
    ]


def test_a_guard_marked_as_judging_standing_is_one_check_user_action_of_the_actor_and_user():
    marked = _marked()
    assert {g.__name__ for g in marked} >= {
        a.guard.__name__ for a in PAGE_ACTIONS.values() if a.menu == "primary"
    }
    for guard in marked:
        tree = ast.parse(textwrap.dedent(inspect.getsource(guard))).body[0]
        body = [n for n in tree.body if not isinstance(n, ast.Expr) or n.value is not None]
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        assert len(body) == 1, guard.__name__
        call = body[0].value
        assert isinstance(call, ast.Call) and call.func.id == "check_user_action", guard.__name__
        assert [a.id for a in call.args[:2]] == ["actor", "user"], guard.__name__
        # The rest is constants (the permission, the words) and batch_id.
        for value in [*call.args[2:], *(k.value for k in call.keywords)]:
            assert isinstance(value, ast.Constant | ast.Attribute) or (
                isinstance(value, ast.Name) and value.id == "batch_id"
            ), guard.__name__


@pytest.fixture
def population(owner, admin_user, editor, viewer, member, world_orgs):
    """Users of every standing a page meets: the owner, peers and people
    above and below each actor, members of one organization, of two, of
    none; banned, disabled and deleted users."""
    acme, globex = world_orgs
    users = [owner, admin_user, editor, viewer, member]
    for i, (roles, orgs) in enumerate(
        [
            ([], [acme]),
            (["member"], [acme]),
            (["member"], [acme, globex]),
            (["org-admin"], [acme]),
            (["org-admin"], [globex]),
            ([], [globex]),
        ]
    ):
        user = make_user(f"p{i}@example.com")
        for org in orgs:
            join(user, org, *roles)
        users.append(user)
    users.append(
        make_user("banned@example.com", banned_until=timezone.now() + timezone.timedelta(days=1))
    )
    users.append(make_user("disabled@example.com", disabled_at=timezone.now(), roles=["viewer"]))
    users.append(make_user("deleted@example.com", deleted_at=timezone.now(), roles=["editor"]))
    return users


@pytest.fixture
def world_orgs(db):
    from rbac.models import Organization

    return (
        Organization.objects.create(slug="acme", name="Acme"),
        Organization.objects.create(slug="globex", name="Globex"),
    )


def _actors(population):
    """The owner, an admin, an editor, a viewer, a member, and the
    administrators of Acme and of Globex."""
    return [*population[:5], population[8], population[9]]


def test_asking_once_per_standing_answers_as_asking_each_user(population, world_orgs):
    holdings = prime_holdings(population)
    for person in _actors(population):
        actor = Actor.for_session(person, "session-key")
        primed = actor.knowing(holdings.permissions, holdings.organizations)
        for guard in {a.guard for a in PAGE_ACTIONS.values()} | set(_marked()):
            each = {u.pk for u in population if base.allows(guard, actor, u)}
            assert policies.allowed_users(guard, primed, population) == each, (
                person.email,
                guard.__name__,
            )
            assert policies.allowed_users(guard, actor, population) == each


def test_the_users_list_asks_each_guard_once_per_standing(client_for, owner, monkeypatch):
    for i in range(30):
        make_user(f"same{i:02d}@example.com", roles=["viewer"])
    calls = []
    real = account_guards.check_user_action

    def counted(actor, user, *args, **kwargs):
        calls.append(user.pk)
        return real(actor, user, *args, **kwargs)

    monkeypatch.setattr(account_guards, "check_user_action", counted)
    response = client_for(owner).get(reverse("users:list"), {"size": 50})
    rows = response.context["rows"]
    assert len(rows) == 31 and all(r.actions for r in rows if not r.is_owner)
    # 30 alike viewers: ban and disable (the two actions an active user is
    # offered) asked once each for all of them, not 60 times; the owner's
    # own row is another standing (two more).
    assert len(calls) <= 4, len(calls)
