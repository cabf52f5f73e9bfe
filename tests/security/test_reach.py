"""Reads that know their reach: every list, count, search, export, figure
and API read asks the actor which users it may see
(`rbac.actor.Actor.visible_users`), and a user outside that reach does not
exist for it (404, the words of "no such user").

Every grant is global today, so a real actor reaches everyone. Here the
doors build a narrowed actor instead -- what a scoped administrator will be
once organizations land -- and every read must follow it."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from accounts.services.api_keys import api_key_create
from rbac.actor import Actor
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

IN_REACH = "@in-reach.example"


class ReachActor(Actor):
    """An actor whose reach is the users with an @in-reach.example address."""

    def visible_users(self, queryset=None):
        return super().visible_users(queryset).filter(email__endswith=IN_REACH)

    @property
    def reach(self) -> str:
        return "test:in-reach"


@pytest.fixture
def narrowed(monkeypatch):
    """The session and API-key doors build a ReachActor."""
    monkeypatch.setattr("accounts.middleware.Actor", ReachActor)
    monkeypatch.setattr("accounts.services.api_keys.Actor", ReachActor)


@pytest.fixture
def people(owner):
    return {
        "in1": make_user("ann" + IN_REACH, name="Ann Inside"),
        "in2": make_user("bob" + IN_REACH, name="Bob Inside"),
        "out1": make_user("carl@elsewhere.example", name="Carl Outside"),
        "out2": make_user("dora@elsewhere.example", name="Dora Outside"),
    }


def _emails(users) -> set[str]:
    return {u.email for u in users}


INSIDE = {"ann" + IN_REACH, "bob" + IN_REACH}


def test_a_narrowed_actor_sees_only_its_reach_on_every_page(
    narrowed, people, admin_user, client_for
):
    client = client_for(admin_user)
    assert isinstance(client.get(reverse("users:list")).wsgi_request.actor, ReachActor)

    listed = client.get(reverse("users:list"))
    assert _emails(listed.context["page"].users) == INSIDE
    assert listed.context["match_count"].value == 2

    found = client.get(reverse("users:jump"), {"q": "example"})
    assert _emails(found.context["users"]) == INSIDE

    exported = client.get(reverse("users:export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert {r["email"] for r in rows} == INSIDE

    assert client.get(reverse("users:detail", args=[people["in1"].pk])).status_code == 200
    outside = client.get(reverse("users:detail", args=[people["out1"].pk]))
    assert outside.status_code == 404

    overview = client.get(reverse("overview"))
    assert overview.context["total_users"] == 2


def test_a_narrowed_actor_cannot_act_on_a_user_outside_its_reach(
    narrowed, people, admin_user, client_for
):
    """Outside the reach, an action answers "no such user" (404), not a
    refusal that would tell the user exists."""
    client = client_for(admin_user)
    response = client.post(
        f"/users/{people['out1'].pk}/ban/", {"duration": "permanent", "reason": "x"}
    )
    assert response.status_code == 404
    people["out1"].refresh_from_db()
    assert people["out1"].status == "active"


def test_a_narrowed_api_key_sees_only_its_reach(narrowed, people, admin_user, client):
    _key, raw = api_key_create(actor=admin_user, name="reach", template="full_access")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    listed = client.get("/api/admin/users", {"limit": 100}, **headers)
    assert listed.status_code == 200
    assert {u["email"] for u in listed.json()} == INSIDE

    inside = client.get(f"/api/admin/users/{people['in1'].pk}", **headers)
    assert inside.status_code == 200
    outside = client.get(f"/api/admin/users/{people['out1'].pk}", **headers)
    assert outside.status_code == 404
    assert outside.json()["error"] == "not_found"

    banned = client.post(
        "/api/admin/users/batch/ban",
        data={"user_ids": [str(people["out1"].pk)], "reason": "x"},
        content_type="application/json",
        **headers,
    )
    assert banned.json()["processed"] == 0
    people["out1"].refresh_from_db()
    assert people["out1"].status == "active"


def test_without_narrowing_an_actor_reaches_everyone(people, admin_user, client_for):
    """The control: the same reads through the real doors show everyone
    (every grant is global today)."""
    client = client_for(admin_user)
    listed = client.get(reverse("users:list"), {"size": 100})
    assert {p.email for p in people.values()} <= _emails(listed.context["page"].users)
    assert client.get(reverse("users:detail", args=[people["out1"].pk])).status_code == 200
