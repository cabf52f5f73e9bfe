"""Seed 003's examples, replayed against /api/admin/ (with `email` in place
of the seed's `did`)."""

from __future__ import annotations

import pytest

from accounts.models import User
from audit.models import AuditEvent
from rbac.permissions import TEMPLATES
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

USERS = "/api/admin/users"


@pytest.fixture
def owner_key(owner, key_for):
    return key_for(owner)


def test_create_with_template_operator_is_201_with_the_operator_permissions(call, owner_key):
    status, body, _ = call(
        "post", USERS, owner_key, {"email": "new@example.com", "template": "operator"}
    )
    assert status == 201
    assert body["email"] == "new@example.com"
    assert body["is_super"] is False
    assert sorted(body["permissions"]) == sorted(TEMPLATES["operator"]["permissions"])
    assert set(body) >= {
        "id",
        "email",
        "name",
        "status",
        "is_super",
        "roles",
        "permissions",
        "created_at",
        "last_login",
    }
    assert AuditEvent.objects.filter(action="accounts.user.created", target_id=body["id"]).exists()


def test_create_without_template_or_permissions_has_no_permissions(call, owner_key):
    status, body, _ = call("post", USERS, owner_key, {"email": "bare@example.com"})
    assert status == 201 and body["permissions"] == []


def test_create_duplicate_email_any_case_is_409(call, owner_key, member):
    status, body, _ = call("post", USERS, owner_key, {"email": "MEMBER@example.com"})
    assert status == 409
    assert body == {"error": "duplicate_email", "detail": "A user with this email already exists."}


def test_list_is_a_json_array_with_a_next_link(call, owner_key, owner):
    for i in range(3):
        call("post", USERS, owner_key, {"email": f"u{i}@example.com"})
    status, body, response = call("get", f"{USERS}?limit=2", owner_key)
    assert status == 200 and isinstance(body, list) and len(body) == 2
    link = response["Link"]
    assert link.endswith('rel="next"')
    status, rest, _ = call("get", link[1 : link.index(">")], owner_key)
    assert status == 200 and len(rest) == 2
    assert {u["id"] for u in body}.isdisjoint({u["id"] for u in rest})
    owner_row = next(u for u in body + rest if u["email"] == owner.email)
    assert owner_row["is_super"] is True


def test_list_filters_by_q_status_and_role(call, owner_key, viewer, editor):
    _, body, _ = call("get", f"{USERS}?q=VICTOR", owner_key)
    assert [u["email"] for u in body] == ["viewer@example.com"]
    _, body, _ = call("get", f"{USERS}?role=editor", owner_key)
    assert [u["email"] for u in body] == ["editor@example.com"]
    status, body, _ = call("get", f"{USERS}?status=sleeping", owner_key)
    assert status == 400 and body["error"] == "validation_error"


def test_get_a_user(call, owner_key, viewer):
    status, body, _ = call("get", f"{USERS}/{viewer.pk}", owner_key)
    assert status == 200
    assert body["email"] == viewer.email and body["roles"] == ["viewer"]


def test_patch_grant_and_revoke(call, owner_key, member):
    status, body, _ = call(
        "patch",
        f"{USERS}/{member.pk}/permissions",
        owner_key,
        {"grant": ["users:read", "audit:read"], "revoke": []},
    )
    assert status == 200 and {"users:read", "audit:read"} <= set(body["permissions"])
    status, body, _ = call(
        "patch", f"{USERS}/{member.pk}/permissions", owner_key, {"revoke": ["audit:read"]}
    )
    assert status == 200 and "audit:read" not in body["permissions"]


def test_granting_a_permission_the_key_lacks_is_403(call, admin_user, key_for, member):
    headers = key_for(admin_user, scopes=["users:read", "users:update", "permissions:grant"])
    status, body, _ = call(
        "patch", f"{USERS}/{member.pk}/permissions", headers, {"grant": ["users:delete"]}
    )
    assert status == 403
    assert body["error"] == "escalation"
    assert "users:delete" in body["detail"]
    assert "users:delete" not in User.objects.get(pk=member.pk).permissions


def test_modifying_the_super_users_permissions_is_403(call, admin_user, key_for, owner):
    status, body, _ = call(
        "patch",
        f"{USERS}/{owner.pk}/permissions",
        key_for(admin_user),
        {"revoke": ["users:read"]},
    )
    assert status == 403
    assert body["error"] == "owner_protected"


def test_transfer_by_a_non_super_user_is_403(call, admin_user, key_for, viewer):
    status, body, _ = call(
        "post", f"{USERS}/transfer-super", key_for(admin_user), {"target_user_id": str(viewer.pk)}
    )
    assert status == 403
    assert body["error"] == "owner_only"
    assert not User.objects.get(pk=viewer.pk).is_owner


def test_transfer_by_the_super_user_is_200(call, owner_key, owner, admin_user):
    # A key is not the person: the owner's password comes with the request.
    status, body, _ = call(
        "post",
        f"{USERS}/transfer-super",
        owner_key,
        {"target_user_id": str(admin_user.pk), "password": STRONG_PASSWORD},
    )
    assert status == 200
    assert body["is_super"] is True and body["id"] == str(admin_user.pk)
    old = User.objects.get(pk=owner.pk)
    assert not old.is_owner and "admin" in old.roles.values_list("slug", flat=True)


def test_deleting_the_super_user_or_yourself_is_refused(call, admin_user, key_for, owner):
    headers = key_for(admin_user)
    status, body, _ = call("delete", f"{USERS}/{owner.pk}", headers)
    assert status == 409 and body["error"] == "owner_protected"
    status, body, _ = call("delete", f"{USERS}/{admin_user.pk}", headers)
    assert status == 409 and body["error"] == "self_action"
    assert (
        User.objects.filter(pk__in=[owner.pk, admin_user.pk], deleted_at__isnull=True).count() == 2
    )


def test_delete_is_204_then_404(call, owner_key, member):
    status, body, response = call("delete", f"{USERS}/{member.pk}", owner_key)
    assert status == 204 and response.content == b""
    status, body, _ = call("get", f"{USERS}/{member.pk}", owner_key)
    assert status == 404 and body["error"] == "not_found"
