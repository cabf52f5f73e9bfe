"""One declaration, one guard, one outcome: for EVERY action declared in
`accounts.services.actions`, the same actor, target and arguments reach
the same outcome through every door the declaration opens -- the user
page, the API, the API's batch, the page's batch and Django admin -- both
the first time and when repeated (ban twice, disable twice, ...).

The doors and their bodies are made from the declaration itself (its
`menu`, `api`, `batch`, `params`, `reauth`), so a new declaration is
covered here without a line added. What each door did is read back from
the audit log (`tests.security.equivalence`): an allowed call leaves the
action's success event (compared by `changes` keys), a refusal a denied
event with its code; a call that changes nothing leaves no event at all,
through every door alike, and answers without an error."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts.models import User, UserSession
from accounts.services.actions import CONFIRM_EMAIL, USER_ACTIONS
from rbac.models import Role, UserRole
from rbac.selectors import user_effective_permissions
from tests.conftest import STRONG_PASSWORD, lock_out
from tests.security.equivalence import (
    NARROW_KEYS,
    PERSONAS,
    Rollback,
    actor_and_scopes,
    key_headers,
    people,
    person_of,
    run,
    session,
)

pytestmark = pytest.mark.django_db(transaction=False)

ROLE = "viewer"

# A state each action applies in ("first") and the state it leaves behind
# ("again"): running it again there is the repeat. None: no repeat (the
# user is gone). Keys: a User field set to now (or "future"), "locked", "role".
STATES = {
    "ban": ({}, {"banned_until": "future"}),
    "unban": ({"banned_until": "future"}, {}),
    "unlock": ({"locked": True}, {}),
    "disable": ({}, {"disabled_at": "now"}),
    "enable": ({"disabled_at": "now"}, {}),
    "force-password-change": ({}, {"must_change_password": True}),
    "delete": ({}, {"deleted_at": "now"}),
    "restore": ({"deleted_at": "now"}, {}),
    "hard-delete": ({}, None),
    "reset-password": ({}, {}),
    "magic-link": ({}, {}),
    "assign-role": ({}, {"role": True}),
    "remove-role": ({"role": True}, {}),
    "resend-verification": ({"email_verified_at": None}, {}),
    "mark-verified": ({"email_verified_at": None}, {}),
}

# What an answer that changed nothing may be (a 404: the API does not find
# a deleted user, as for anyone outside reach).
QUIET = {200, 201, 204, 302, 404}


def test_every_declared_action_has_its_states():
    assert set(STATES) == set(USER_ACTIONS)


def _set_state(target, state: dict) -> None:
    now = timezone.now()
    state = dict(state)
    if state.pop("locked", None):
        lock_out(target.email, when=now)
    if state.pop("role", None):
        UserRole.objects.get_or_create(user=target, role=Role.objects.get(slug=ROLE))
    values = {}
    for field, value in state.items():
        if value == "future":
            value = now + timezone.timedelta(days=1)
        elif value == "now":
            value = now
        values[field] = value
    if values:
        User.objects.filter(pk=target.pk).update(**values)


def _values(action, target) -> dict:
    """The arguments every door sends, by parameter name."""
    values = {}
    for param in action.params:
        if param.kind == CONFIRM_EMAIL:
            values[param.name] = target.email
        elif param.name == "reason":
            values[param.name] = "equivalence"
        elif param.name == "role":
            values[param.name] = ROLE
        elif param.name == "type":
            values[param.name] = "recovery"
        elif param.name == "send_email":
            values[param.name] = True
    return values


def doors(action, *, actor, target, headers, sessions) -> dict:
    """name -> a call, for every door `action`'s declaration opens."""
    api = Client()
    values = _values(action, target)
    body = {k: v for k, v in values.items() if k != "until"}
    proof = {"current_password": STRONG_PASSWORD} if action.reauth else {}
    found = {}
    if action.api is not None:
        door = action.api
        path = door.path if door.path is not None else action.name
        url = f"/api/admin/users/{target.pk}" + (f"/{path}" if path else "")
        found["api"] = lambda: getattr(api, door.method)(
            url, data={**body, **proof}, content_type="application/json", **headers
        )
    if action.batch:
        batch_body = {k: v for k, v in body.items() if k not in ("confirm_email", "send_email")}
        found["batch api"] = lambda: api.post(
            f"/api/admin/users/batch/{action.name}",
            data={"user_ids": [str(target.pk)], **batch_body, **proof},
            content_type="application/json",
            **headers,
        )
    if not sessions:
        return found
    browser = session(actor)
    UserSession.objects.create(
        session_key=browser.session.session_key, user=actor, reauthenticated_at=timezone.now()
    )
    form = {**body, "duration": "permanent"}
    if action.menu:
        found["page"] = lambda: browser.post(f"/users/{target.pk}/{action.name}/", form)
    if action.batch:
        found["batch page"] = lambda: browser.post(
            "/users/batch/",
            {
                **{k: v for k, v in form.items() if k not in ("confirm_email", "send_email")},
                "action": action.key,
                "ids": [str(target.pk)],
                "execute": "1",
                "ban-duration": "permanent",
                **proof,
            },
        )
        if actor.is_staff and action.permission in user_effective_permissions(actor):
            # Django admin offers the action only to holders of its permission.
            found["admin"] = lambda: browser.post(
                "/admin/accounts/user/",
                {
                    **{k: v for k, v in form.items() if k not in ("confirm_email", "send_email")},
                    "action": f"user_{action.key}_action",
                    "_selected_action": [str(target.pk)],
                    "apply": "yes",
                    **proof,
                },
            )
    return found


def outcomes_of(actor_name: str, target_name: str, name: str, again: bool) -> dict:
    action = USER_ACTIONS[name]
    first, repeat = STATES[name]
    state = repeat if again else first
    try:
        with transaction.atomic():
            everyone = people()
            target = everyone[target_name]
            actor, key_scopes, sessions = actor_and_scopes(everyone, actor_name)
            headers = key_headers(actor, key_scopes)
            found = doors(action, actor=actor, target=target, headers=headers, sessions=sessions)
            outcomes = {
                door: run(fn, target, action.event, lambda: _set_state(target, state))
                for door, fn in found.items()
            }
            raise Rollback(outcomes)
    except Rollback as done:
        outcomes = done.args[0]
    # "Nothing to do" is the same outcome whatever the door answers, as
    # long as it is not an error.
    return {
        door: ("no event",) if o[0] == "no event" and o[1] in QUIET else o
        for door, o in outcomes.items()
    }


# Every declared action, first and again, by one actor the guard lets
# through and one it refuses.
CASES = [
    (actor, target, name, again)
    for name, (_first, repeat) in STATES.items()
    for again in ([False, True] if repeat is not None else [False])
    for actor, target in [("admin", "member"), ("manager", "admin")]
]


@pytest.mark.parametrize(("actor_name", "target_name", "name", "again"), CASES)
def test_every_declared_action_has_one_outcome_through_every_door(
    owner, actor_name, target_name, name, again
):
    outcomes = outcomes_of(actor_name, target_name, name, again)
    case = (actor_name, target_name, name, "again" if again else "first")
    assert {"api", "batch api", "batch page", "admin"} & set(outcomes), case
    assert len(set(outcomes.values())) == 1, (case, outcomes)
    (outcome,) = set(outcomes.values())
    if actor_name == "manager":
        assert outcome[0] == "refused", (case, outcomes)
    elif not again:
        assert outcome[0] == "allowed", (case, outcomes)


def test_a_ban_repeated_changes_the_ban_through_every_door(owner):
    """The finding of issue 22: a batch used to skip a banned user as
    "Already banned." while the page and the API changed the ban."""
    outcomes = outcomes_of("admin", "member", "ban", again=True)
    assert {"page", "api", "batch api", "batch page", "admin"} <= set(outcomes)
    assert set(outcomes.values()) == {
        ("allowed", "accounts.user.banned", ("ban_reason", "banned_until"))
    }, outcomes


def test_a_disable_repeated_changes_nothing_through_every_door(owner):
    outcomes = outcomes_of("admin", "member", "disable", again=True)
    assert {"page", "api", "batch api", "batch page", "admin"} <= set(outcomes)
    assert set(outcomes.values()) == {("no event",)}, outcomes


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    actor_name=st.sampled_from([*PERSONAS, *NARROW_KEYS]),
    target_name=st.sampled_from(list(PERSONAS)),
    name=st.sampled_from(list(USER_ACTIONS)),
    again=st.booleans(),
)
def test_any_persona_reaches_the_same_outcome_through_every_door(
    owner, actor_name, target_name, name, again
):
    # A banned, disabled or deleted actor cannot sign in at all.
    first, repeat = STATES[name]
    assume(not (again and repeat is None))
    assume(person_of(actor_name) != target_name)
    outcomes = outcomes_of(actor_name, target_name, name, again)
    assert len(set(outcomes.values())) == 1, (actor_name, target_name, name, again, outcomes)
