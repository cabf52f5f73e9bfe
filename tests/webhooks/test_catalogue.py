"""The catalogue's organization and membership events, made by the real
services through the API and sent (eager tasks) to a real HTTP receiver,
and what no payload of any catalogue type may carry."""

from __future__ import annotations

import json
import re

from django.db import transaction
from standardwebhooks.webhooks import Webhook

from tests.conftest import STRONG_PASSWORD, make_user
from tests.webhooks.world import catalogue_world
from webhooks.catalogue import EVENT_TYPES
from webhooks.models import WebhookDelivery

API = "/api/admin/webhooks"
ORGS = "/api/admin/organizations"


def received(receiver, secret) -> list[dict]:
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.got()]


def test_organization_and_membership_changes_arrive_as_the_api_returns_them(
    call, owner, key_for, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    key = key_for(owner)
    _, made, _ = call("POST", API, key, {"url": receiver.url})
    member = make_user("member@example.com", name="Mia Member")
    seen = {}
    with django_capture_on_commit_callbacks(execute=True):
        status, _, _ = call("POST", ORGS, key, {"slug": "acme", "name": "Acme"})
        assert status == 201
        seen["created"] = call("GET", f"{ORGS}/acme", key)[1]
        call("PATCH", f"{ORGS}/acme", key, {"name": "Acme Ltd", "metadata": {"tier": "gold"}})
        seen["updated"] = call("GET", f"{ORGS}/acme", key)[1]
        status, _, _ = call(
            "POST", f"{ORGS}/acme/members", key, {"user_id": str(member.pk), "roles": ["viewer"]}
        )
        assert status == 201
        seen["added"] = call("GET", f"/api/admin/users/{member.pk}", key)[1]
        status, _, _ = call("PATCH", f"{ORGS}/acme/members/{member.pk}", key, {"roles": ["member"]})
        assert status == 200
        seen["roles"] = call("GET", f"/api/admin/users/{member.pk}", key)[1]
        assert call("DELETE", f"{ORGS}/acme/members/{member.pk}", key)[0] == 204
        assert call("DELETE", f"{ORGS}/acme", key)[0] == 204

    payloads = received(receiver, made["secret"])
    assert [p["type"] for p in payloads] == [
        "rbac.organization.created",
        "rbac.organization.updated",
        "rbac.membership.added",
        "rbac.user_role.assigned",
        "rbac.user_role.removed",
        "rbac.membership.removed",
        "rbac.organization.deleted",
    ]
    created, updated, added, assigned, removed_role, left, deleted = (p["data"] for p in payloads)
    # An organization's data is what GET /api/admin/organizations/{slug} answered then.
    assert created == {**seen["created"], "object": "organization"}
    assert updated == {**seen["updated"], "object": "organization"}
    assert updated["name"] == "Acme Ltd" and updated["metadata"] == {"tier": "gold"}
    # A membership's: the organization and the user, as the API answers them.
    assert added["object"] == "membership"
    assert added["organization"]["slug"] == "acme" and added["organization"]["member_count"] == 1
    assert added["user"] == seen["added"]
    assert added["user"]["organizations"] == [{"slug": "acme", "roles": ["viewer"]}]
    assert assigned["object"] == removed_role["object"] == "membership"
    assert removed_role["user"] == seen["roles"]
    assert removed_role["user"]["organizations"] == [{"slug": "acme", "roles": ["member"]}]
    assert left["user"]["organizations"] == []
    assert left["organization"]["member_count"] == 0
    # Written before the row goes (log before deleting): the organization
    # as it was when deleted.
    assert deleted == {**seen["updated"], "member_count": 0, "object": "organization"}


def test_a_global_role_change_is_about_the_user_alone(
    call, owner, key_for, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    key = key_for(owner)
    _, made, _ = call(
        "POST", API, key, {"url": receiver.url, "events": ["rbac.user_role.assigned"]}
    )
    user = make_user("someone@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        status, answer, _ = call(
            "POST", f"/api/admin/users/{user.pk}/roles", key, {"role": "viewer"}
        )
        assert status in (200, 201), answer
    [payload] = received(receiver, made["secret"])
    assert payload["data"]["object"] == "user"
    assert payload["data"]["roles"] == ["viewer"]


# A key that names a secret, a token or a password, wherever it is nested.
SECRET_KEY = re.compile(r"pass(word)?|token|secret|otp|totp|api_?key|hash|session", re.I)


def keys_in(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k
            yield from keys_in(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from keys_in(v, f"{path}[{i}]")


def test_no_payload_of_any_catalogue_type_carries_a_secret_a_token_or_a_password(
    call, owner, key_for, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    """Every catalogue type, about objects that do hold secrets (a password,
    an API key, an invitation's token hash, a sealed endpoint secret): no
    key of `data` names one, and none of their values is anywhere in the
    body."""
    key = key_for(owner)
    _, made, _ = call("POST", API, key, {"url": receiver.url})
    user, _org, record_each = catalogue_world(owner)
    raw_key = key["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record_each()
    payloads = received(receiver, made["secret"])
    assert sorted(p["type"] for p in payloads) == sorted(EVENT_TYPES)
    user.refresh_from_db()
    values = {
        STRONG_PASSWORD,
        user.password,  # the stored hash
        raw_key,
        made["secret"],
        made["secret"].removeprefix("whsec_"),
        "x" * 64,  # the invitation's token hash
    }
    for payload in payloads:
        named = [path for path, k in keys_in(payload["data"]) if SECRET_KEY.search(k)]
        assert named == [], (payload["type"], named)
        body = json.dumps(payload)
        assert not [v for v in values if v and v in body], payload["type"]
    assert WebhookDelivery.objects.count() == len(EVENT_TYPES)


def test_every_declared_action_on_a_user_is_a_webhook_event():
    """The catalogue reads the action declarations: an action added there is
    delivered with no line in the catalogue (issue 25: events come from the
    declarations)."""
    from accounts.services.actions import USER_ACTIONS
    from webhooks.catalogue import CATALOGUE

    assert {a.event for a in USER_ACTIONS.values()} <= CATALOGUE
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))
