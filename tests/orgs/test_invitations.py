"""An invitation may name an organization and roles there: accepting joins
that organization holding those roles (there, not globally)."""

from __future__ import annotations

import pytest

from accounts.models import Invitation
from accounts.services.api_keys import api_key_create
from accounts.services.invitations import invitation_accept, invitation_create
from rbac.actor import Actor
from rbac.models import Membership, UserRole
from rbac.policies import PolicyDenied

pytestmark = pytest.mark.django_db


def test_an_organization_admin_invites_a_client_into_their_organization(world, call):
    scopes = sorted(Actor.console(world["ada"]).permissions)
    _key, raw = api_key_create(actor=world["owner"], name="t", scopes=scopes, user=world["ada"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    status, body, _ = call(
        "POST",
        "/api/admin/invitations",
        headers,
        {"email": "cleo@client.example", "roles": ["member"], "organization": "acme"},
    )
    assert status == 201 and body["organization"] == "acme" and body["roles"] == ["member"]
    # Not into an organization they do not administer, nor into none.
    status, body, _ = call(
        "POST",
        "/api/admin/invitations",
        headers,
        {"email": "x@client.example", "roles": ["member"], "organization": "globex"},
    )
    assert status == 400 and body["error"] == "unknown_organization"
    status, body, _ = call(
        "POST", "/api/admin/invitations", headers, {"email": "y@client.example", "roles": []}
    )
    assert status == 403

    invitation = Invitation.objects.get(email="cleo@client.example")
    assert invitation.organization == world["acme"]
    user = invitation_accept(
        digest=invitation.token_hash, name="Cleo", password="Correct-Horse-Battery-42"
    )
    assert Membership.objects.filter(user=user, organization=world["acme"]).exists()
    held = list(UserRole.objects.filter(user=user).values_list("role__slug", "organization__slug"))
    assert held == [("member", "acme")]
    # The new client is in Ada's reach.
    status, body, _ = call("GET", f"/api/admin/users/{user.pk}", headers)
    assert status == 200 and body["organizations"] == [{"slug": "acme", "roles": ["member"]}]


def test_an_invitation_into_an_organization_grants_only_what_the_inviter_holds_there(world):
    ada = Actor.for_session(world["ada"], "s")
    with pytest.raises(PolicyDenied) as exc:
        invitation_create(actor=ada, email="z@client.example", roles=["admin"], organization="acme")
    assert exc.value.code == "escalation"
