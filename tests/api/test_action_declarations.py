"""Each action on a user is declared once (`accounts.services.actions`) and
every door reads the declaration: the user page's route and form, the
API's route and schema, the batch's choices and schema, Django admin's
actions. A declaration added later appears at each door with nothing else
written (the last tests add one)."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import NoReverseMatch, reverse
from ninja import Router

from accounts.admin import UserAdmin
from accounts.admin_actions import declared_action
from accounts.api.user_actions import _route, action_schema
from accounts.forms import ActionForm, BatchForm
from accounts.services import actions as declared
from accounts.services.actions import USER_ACTIONS, batch_actions
from accounts.services.batch import batch_run
from audit.events import EVENT_TYPES
from audit.models import AuditEvent
from handover.api import api
from rbac import policies
from rbac.actor import Actor
from rbac.permissions import CATALOG

pytestmark = pytest.mark.django_db

DECLARATIONS = list(USER_ACTIONS.values())


def _openapi() -> dict:
    return api.get_openapi_schema(path_prefix="/api/")


def _operation(schema, operation_id):
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            if op.get("operationId") == operation_id:
                return path, method, op
    return None


def _body_fields(schema, op) -> set:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return set()
    ref = content["schema"].get("$ref") or content["schema"].get("anyOf", [{}])[0].get("$ref")
    name = ref.rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"][name]["properties"])


def _api_fields(action) -> set:
    fields = set()
    for param in action.params:
        fields |= {"until", "duration_hours"} if param.kind == declared.BAN_END else {param.name}
    return fields | ({"current_password"} if action.reauth else set())


def test_the_declarations_name_real_permissions_events_and_guards():
    for action in DECLARATIONS:
        assert action.permission in CATALOG, action.name
        assert action.event in EVENT_TYPES, action.name  # it has a sentence
        assert action.guard.__module__.startswith("rbac.policies"), action.name
        assert action.done and action.label and action.title, action.name


@pytest.mark.parametrize("action", DECLARATIONS, ids=lambda a: a.name)
def test_the_user_page_offers_each_page_action_with_a_form_from_its_parameters(action):
    if not action.menu:
        with pytest.raises(NoReverseMatch):
            reverse(f"users:{action.name}", args=["00000000-0000-0000-0000-000000000000"])
        return
    assert reverse(f"users:{action.name}", args=["00000000-0000-0000-0000-000000000000"])
    form = ActionForm(action)
    expected = set()
    for param in action.params:
        expected |= (
            {"duration", "amount", "until"} if param.kind == declared.BAN_END else {param.name}
        )
    assert set(form.fields) == expected


@pytest.mark.parametrize("action", DECLARATIONS, ids=lambda a: a.name)
def test_the_api_offers_each_action_with_a_schema_from_its_parameters(action):
    schema = _openapi()
    found = _operation(schema, f"user_{action.key}")
    if action.api is None:
        assert found is None
        return
    assert found is not None, action.name
    path, method, op = found
    assert method == action.api.method
    assert path.endswith(action.api.path if action.api.path is not None else action.name)
    assert _body_fields(schema, op) == _api_fields(action)
    assert {str(s) for s in op["responses"]} >= {str(action.api.status)}


def test_the_batch_offers_every_batchable_action_and_its_parameters():
    assert {key for key, _label in BatchForm().fields["action"].choices if key} == set(
        batch_actions()
    )
    schema = _openapi()
    _path, _method, op = _operation(schema, "accounts_api_batch")
    fields = _body_fields(schema, op)
    for action in batch_actions().values():
        asked = {p.name for p in action.params if not p.per_user}
        asked = {"until", "duration_hours"} if "until" in asked else asked
        assert asked | ({"current_password"} if action.reauth else set()) <= fields


def test_django_admin_offers_every_batchable_action_to_the_holders_of_its_permission(rf, owner):
    names = {a.__name__: a.required_permission for a in UserAdmin.actions}
    for action in batch_actions().values():
        assert names.get(f"user_{action.key}_action") == action.permission


def test_the_batch_and_the_page_share_one_state_rule(member):
    """The rule that used to differ: a banned user can be banned again
    (the ban changes), in a batch as on the page."""
    ban = USER_ACTIONS["ban"]
    member.banned_until = member.created_at.replace(year=member.created_at.year + 1)
    member.save()
    assert ban.applies(member)
    assert USER_ACTIONS["unban"].applies(member)
    assert not USER_ACTIONS["enable"].applies(member)
    assert USER_ACTIONS["disable"].why_not(member) == ""


# --- a new declaration appears everywhere --------------------------------------


@pytest.fixture
def new_declaration(monkeypatch):
    """A declaration added at run time: verifying an address under another
    name, with a reason (its service and guard are real)."""
    action = dataclasses.replace(
        USER_ACTIONS["mark-verified"],
        name="vouch-for-address",
        label="Vouch for address",
        title="Vouch for the address",
    )
    monkeypatch.setitem(USER_ACTIONS, action.name, action)
    return action


def test_a_new_declaration_is_offered_by_the_batch_form_and_runs_in_a_batch(
    new_declaration, admin_user, member
):
    assert (new_declaration.key, new_declaration.label) in BatchForm().fields["action"].choices
    member.email_verified_at = None
    member.save()
    result = batch_run(
        actor=Actor.console(admin_user),
        action=new_declaration.key,
        user_ids=[member.pk],
        params={"reason": "phoned them"},
    )
    assert result["processed"] == 1
    event = AuditEvent.objects.get(action=new_declaration.event, target_id=str(member.pk))
    assert (event.reason, event.batch_id is not None) == ("phoned them", True)
    again = batch_run(
        actor=Actor.console(admin_user), action=new_declaration.key, user_ids=[member.pk]
    )
    assert again["items"][0]["reason"] == "Already verified."


def test_a_new_declaration_gets_a_page_form_an_api_route_and_an_admin_action(new_declaration):
    assert set(ActionForm(new_declaration).fields) == {"reason"}
    assert set(action_schema(new_declaration).model_fields) == {"reason"}
    router = Router()
    _route(router, new_declaration)
    assert [p for p in router.path_operations if p.endswith("/vouch-for-address")]
    admin_action = declared_action(new_declaration)
    assert admin_action.__name__ == "user_vouch_for_address_action"
    assert admin_action.required_permission == new_declaration.permission


def test_a_new_declarations_guard_refuses_through_the_batch_as_alone(
    new_declaration, admin_user, owner
):
    owner.email_verified_at = None
    owner.save()
    result = batch_run(
        actor=Actor.console(admin_user), action=new_declaration.key, user_ids=[owner.pk]
    )
    assert result["items"][0]["outcome"] == "skipped"
    with pytest.raises(policies.PolicyDenied) as alone:
        new_declaration.service(actor=Actor.console(admin_user), user=owner)
    assert result["items"][0]["reason"] == alone.value.message
