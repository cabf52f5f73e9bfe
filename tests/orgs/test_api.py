"""The organizations API (`/api/admin/organizations`) and the users API's
organizations, through an API key: a global operator's and an organization
administrator's."""

from __future__ import annotations

import pytest

from accounts.services.api_keys import api_key_create
from rbac.models import Membership, Organization
from rbac.permissions import ALL_PERMISSIONS

pytestmark = pytest.mark.django_db


def bearer(owner, user, scopes) -> dict:
    _key, raw = api_key_create(actor=owner, name="t", scopes=sorted(scopes), user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def op(owner, call):
    headers = bearer(owner, owner, ALL_PERMISSIONS)
    return lambda method, path, body=None: call(method, path, headers, body)


@pytest.fixture
def ada_api(world, call):
    from rbac.actor import Actor

    scopes = Actor.console(world["ada"]).permissions
    headers = bearer(world["owner"], world["ada"], scopes)
    return lambda method, path, body=None: call(method, path, headers, body)


def test_organization_lifecycle(op, member):
    status, body, _ = op("POST", "/api/admin/organizations", {"slug": "acme", "name": "Acme"})
    assert status == 201 and body["slug"] == "acme"
    status, body, _ = op("POST", "/api/admin/organizations", {"slug": "acme", "name": "Again"})
    assert status == 409 and body["error"] == "duplicate_slug"
    assert op("GET", "/api/admin/organizations")[0] == 200
    status, body, _ = op("PATCH", "/api/admin/organizations/acme", {"name": "Acme Inc"})
    assert status == 200 and body["name"] == "Acme Inc"
    status, body, _ = op(
        "POST", "/api/admin/organizations/acme/members", {"user_id": str(member.pk), "roles": []}
    )
    assert status == 201 and body["organizations"] == [{"slug": "acme", "roles": []}]
    status, body, _ = op(
        "PATCH", f"/api/admin/organizations/acme/members/{member.pk}", {"roles": ["viewer"]}
    )
    assert status == 200 and body["organizations"] == [{"slug": "acme", "roles": ["viewer"]}]
    status, body, _ = op("GET", "/api/admin/organizations/acme/members")
    assert status == 200 and [u["email"] for u in body] == [member.email]
    status, body, _ = op("GET", "/api/admin/users?organization=acme")
    assert status == 200 and [u["email"] for u in body] == [member.email]
    status, body, _ = op("DELETE", "/api/admin/organizations/acme")
    assert status == 409 and body["error"] == "has_members"
    assert op("DELETE", f"/api/admin/organizations/acme/members/{member.pk}")[0] == 204
    assert op("DELETE", "/api/admin/organizations/acme")[0] == 204
    assert not Organization.objects.exists()


def test_an_organization_admin_key_sees_and_acts_only_inside(ada_api, world):
    status, body, _ = ada_api("GET", "/api/admin/users?limit=200")
    assert status == 200
    assert {u["email"] for u in body} == {
        "ada@acme.example",
        "alice@acme.example",
        "bo@both.example",
    }
    assert ada_api("GET", f"/api/admin/users/{world['gil'].pk}")[0] == 404
    assert ada_api("GET", f"/api/admin/users/{world['loner'].pk}")[0] == 404
    assert ada_api("GET", "/api/admin/organizations/globex")[0] == 404
    assert ada_api("GET", "/api/admin/organizations/globex/members")[0] == 404
    status, body, _ = ada_api("GET", "/api/admin/organizations")
    assert [o["slug"] for o in body] == ["acme"]
    status, body, _ = ada_api("POST", "/api/admin/organizations", {"slug": "x", "name": "X"})
    assert status == 403
    # A member of two organizations: the account-wide action is refused with the reason.
    status, body, _ = ada_api(
        "POST", f"/api/admin/users/{world['both'].pk}/ban", {"reason": "spam"}
    )
    assert status == 403 and "Globex" in body["detail"]
    # ... and removing the membership works.
    assert ada_api("DELETE", f"/api/admin/organizations/acme/members/{world['both'].pk}")[0] == 204
    assert not Membership.objects.filter(user=world["both"], organization=world["acme"]).exists()
    # Now outside the reach entirely.
    assert ada_api("GET", f"/api/admin/users/{world['both'].pk}")[0] == 404
    # Inside: the ban goes through.
    status, body, _ = ada_api(
        "POST", f"/api/admin/users/{world['alice'].pk}/ban", {"reason": "spam"}
    )
    assert status == 200 and body["status"] == "banned"
