"""The /api-keys/ page."""

from __future__ import annotations

import re

import pytest

from accounts.models import ApiKey
from accounts.services.api_keys import hash_key
from tests.conftest import make_user, reauthenticate

pytestmark = pytest.mark.django_db


def test_empty_state_invites_creating_a_key(client_for, owner):
    html = client_for(owner).get("/api-keys/").content.decode()
    assert "No API keys yet" in html


def test_creating_a_key_shows_it_once_and_stores_only_its_hash(client_for, owner):
    client = client_for(owner)
    reauthenticate(client)
    response = client.post(
        "/api-keys/new/", {"name": "billing sync", "template": "viewer", "expires_in_days": "30"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = re.search(r'value="(hv_[^"]+)"', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert key.key_hash == hash_key(raw)
    listing = client.get("/api-keys/").content.decode()
    assert "billing sync" in listing and raw not in listing and key.prefix in listing


def test_permissions_you_lack_are_disabled_with_the_reason(client_for, owner):
    from rbac.models import Role, UserRole

    user = make_user("keys@example.com")
    role = Role.objects.create(
        slug="keys", name="Keys", permissions=["api-keys:create", "api-keys:read", "users:read"]
    )
    UserRole.objects.create(user=user, role=role)
    client = client_for(user)
    reauthenticate(client)
    response = client.get("/api-keys/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'value="users:delete" id="perm-users:delete"\s+disabled', html)
    assert "You don't hold this permission." in html


def test_escalation_through_the_form_is_refused_with_the_missing_permission(client_for, owner):
    from rbac.models import Role, UserRole

    user = make_user("keys@example.com")
    role = Role.objects.create(slug="keys", name="Keys", permissions=["api-keys:create"])
    UserRole.objects.create(user=user, role=role)
    client = client_for(user)
    reauthenticate(client)
    response = client.post("/api-keys/new/", {"name": "x", "permissions": ["users:delete"]})
    assert (
        "You cannot grant permissions you do not hold: users:delete." in response.content.decode()
    )
    assert not ApiKey.objects.exists()


def test_revoking_a_key_from_the_page(client_for, owner):
    from accounts.services.api_keys import api_key_create

    key, _ = api_key_create(actor=owner, name="old", template="viewer")
    client = client_for(owner)
    # Another credential of your own: confirm your password first.
    response = client.post(f"/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302 and "/account/reauthenticate/" in response["Location"]
    assert ApiKey.objects.get().status == "active"
    reauthenticate(client)
    response = client.post(f"/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert ApiKey.objects.get().status == "revoked"


def test_viewer_cannot_see_the_page(client_for, viewer):
    response = client_for(viewer).get("/api-keys/")
    assert response.status_code == 403
    assert "api-keys:read" in response.content.decode()


def test_creating_a_key_requires_recent_re_authentication(client_for, owner):
    client = client_for(owner)
    reauthenticate(client, minutes_ago=11)
    response = client.get("/api-keys/new/")
    assert response.status_code == 302
    assert response["Location"] == "/account/reauthenticate/?next=%2Fapi-keys%2Fnew%2F"
    response = client.post("/api-keys/new/", {"name": "sneaky", "template": "viewer"})
    assert response["Location"] == "/account/reauthenticate/?next=%2Fapi-keys%2Fnew%2F"
    assert not ApiKey.objects.exists()
    reauthenticate(client, minutes_ago=9)
    assert client.get("/api-keys/new/").status_code == 200


def test_a_reader_cannot_revoke_someone_elses_key_and_the_refusal_is_audited(client_for, owner):
    from accounts.services.api_keys import api_key_create
    from audit.models import AuditEvent
    from rbac.models import Role, UserRole

    key, _ = api_key_create(actor=owner, name="theirs", template="viewer")
    reader = make_user("reader@example.com")
    role = Role.objects.create(slug="key-reader", name="Key reader", permissions=["api-keys:read"])
    UserRole.objects.create(user=reader, role=role)
    response = client_for(reader).post(f"/api-keys/{key.pk}/revoke/")
    assert response.status_code == 403
    assert "api-keys:delete" in response.content.decode()
    assert ApiKey.objects.get().status == "active"
    event = AuditEvent.objects.get(action="accounts.api_key.revoked", outcome="denied")
    assert event.actor_id == reader.pk
