"""API keys: hashing, expiry, revocation, scope intersection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services.api_keys import api_key_create, api_key_revoke
from audit.models import AuditEvent
from rbac.models import Role, UserRole
from rbac.policies import PolicyDenied

pytestmark = pytest.mark.django_db

AUDIT = "/api/admin/audit"


def test_key_is_hv_prefixed_with_at_least_128_random_bits(owner):
    _key, raw = api_key_create(actor=owner, name="k", template="viewer")
    assert raw.startswith("hv_")
    assert len(raw) - 3 >= 43  # 32 bytes urlsafe-base64 = 256 bits


def test_plaintext_key_is_never_stored(owner):
    _key, raw = api_key_create(actor=owner, name="k", template="viewer")
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = repr(cursor.fetchall())
            assert raw not in dump, f"plaintext key found in {table}"
            assert raw[3:] not in dump


def test_missing_or_malformed_key_is_401(call, owner):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_AUTHORIZATION": "Basic x"}):
        status, body, _ = call("get", AUDIT, headers)
        assert status == 401
        assert body == {
            "error": "unauthorized",
            "detail": "Missing, invalid, expired or revoked API key.",
        }


def test_key_in_the_url_is_not_accepted(client, owner):
    _key, raw = api_key_create(actor=owner, name="k", template="full_access")
    assert client.get(f"{AUDIT}?api_key={raw}").status_code == 401
    assert client.get(f"{AUDIT}?token={raw}").status_code == 401


def test_revoked_key_is_refused_on_the_next_request(call, owner, key_for):
    headers = key_for(owner)
    assert call("get", AUDIT, headers)[0] == 200
    api_key_revoke(actor=owner, key=ApiKey.objects.get())
    assert call("get", AUDIT, headers)[0] == 401


def test_expired_key_is_refused(call, owner, key_for):
    headers = key_for(owner, expires_in_days=1)
    assert call("get", AUDIT, headers)[0] == 200
    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert call("get", AUDIT, headers)[0] == 401


def test_banned_users_keys_stop_working_at_once(call, admin_user, key_for):
    headers = key_for(admin_user)
    assert call("get", AUDIT, headers)[0] == 200
    type(admin_user).objects.filter(pk=admin_user.pk).update(
        banned_until=timezone.now() + timedelta(days=1)
    )
    assert call("get", AUDIT, headers)[0] == 401


def test_demoting_the_user_narrows_the_key_at_once(call, admin_user, key_for):
    headers = key_for(admin_user, template="full_access")
    assert call("get", AUDIT, headers)[0] == 200
    UserRole.objects.filter(user=admin_user).update(role=Role.objects.get(slug="viewer"))
    status, body, _ = call("get", AUDIT, headers)
    assert status == 403
    assert body["error"] == "permission_denied"
    assert "audit:read" in body["detail"]


def test_key_scope_limits_what_the_user_can_do(call, admin_user, key_for):
    headers = key_for(admin_user, scopes=["users:read"])
    status, body, _ = call("get", AUDIT, headers)
    assert status == 403
    assert body == {
        "error": "permission_denied",
        "detail": "You need the permission audit:read to do this.",
    }
    denied = AuditEvent.objects.filter(outcome="denied").latest("id")
    assert denied.action == "audit.event.listed"
    assert denied.actor_id == admin_user.pk


def test_key_scopes_cannot_exceed_the_creators_permissions(viewer):
    with pytest.raises(PolicyDenied) as exc:
        api_key_create(actor=viewer, name="k", scopes=["users:read"])
    assert exc.value.code == "permission_denied"  # viewers cannot create keys at all

    role = Role.objects.create(slug="keymaker", name="Key maker", permissions=["api-keys:create"])
    UserRole.objects.create(user=viewer, role=role)
    viewer = type(viewer).objects.get(pk=viewer.pk)
    with pytest.raises(PolicyDenied) as exc:
        api_key_create(actor=viewer, name="k", scopes=["users:read", "users:delete"])
    assert exc.value.message == "You cannot grant permissions you do not hold: users:delete."
    assert AuditEvent.objects.filter(action="accounts.api_key.created", outcome="denied").exists()


def test_unknown_scope_is_rejected(owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unknown permission: users:fly"):
        api_key_create(actor=owner, name="k", scopes=["users:fly"])


def test_last_used_is_updated_at_most_once_a_minute(
    call, owner, key_for, django_assert_num_queries
):
    headers = key_for(owner)
    call("get", AUDIT, headers)
    first = ApiKey.objects.get().last_used_at
    call("get", AUDIT, headers)
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    call("get", AUDIT, headers)
    assert ApiKey.objects.get().last_used_at > first


def test_create_api_key_command_prints_the_key_once(owner, capsys):
    call_command("create_api_key", user="OWNER@example.com", name="cli", template="viewer")
    out = capsys.readouterr().out
    raw = next(line for line in out.splitlines() if line.startswith("hv_"))
    key = ApiKey.objects.get(name="cli")
    assert key.user == owner
    assert sorted(key.scopes) == sorted(
        [
            "users:read",
            "invitations:read",
            "roles:read",
            "sessions:read",
            "mfa:read",
            "organizations:read",
            "members:read",
        ]
    )
    assert key.key_hash != raw


def test_create_api_key_command_refuses_escalation(viewer):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="api-keys:create"):
        call_command("create_api_key", user=viewer.email, name="cli", permissions=["users:read"])
