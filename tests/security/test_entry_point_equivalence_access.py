"""One guard, one action, for the actions on another user besides the
status ones (`test_entry_point_equivalence.py`)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from tests.security.equivalence import (
    Rollback,
    actor_and_scopes,
    key_headers,
    people,
    run,
    session,
)

pytestmark = pytest.mark.django_db(transaction=False)


def test_a_role_the_actor_cannot_give_is_refused_alike_by_the_page_and_the_batches(owner):
    """A manager cannot give the admin role (escalation), nor act on the
    owner (owner_protected). The page asked the per-user guard, which named
    the owner first; both batches refused the role up front (escalation)."""
    try:
        with transaction.atomic():
            everyone = people()
            actor, scopes, _ = actor_and_scopes(everyone, "manager")
            target = everyone["owner"]
            headers = key_headers(actor, scopes)
            browser, api = session(actor), Client()
            doors = {
                "page": lambda: browser.post(f"/roles/users/{target.pk}/roles/", {"role": "admin"}),
                "batch page": lambda: browser.post(
                    "/users/batch/",
                    {
                        "action": "assign_role",
                        "ids": [str(target.pk)],
                        "execute": "1",
                        "role": "admin",
                    },
                ),
                "batch api": lambda: api.post(
                    "/api/admin/users/batch/assign-role",
                    data={"user_ids": [str(target.pk)], "role": "admin"},
                    content_type="application/json",
                    **headers,
                ),
            }
            outcomes = {n: run(fn, target, "rbac.user_role.assigned") for n, fn in doors.items()}
            raise Rollback(outcomes)
    except Rollback as done:
        outcomes = done.args[0]
    assert len(set(outcomes.values())) == 1, outcomes
