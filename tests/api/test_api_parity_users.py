"""API parity with the dashboard, users: hard delete, per-user roles, the
users export and the list's filters -- the same services and guards as the
pages, through the real API door (an API key, the test client)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.models import AuditEvent
from rbac.models import UserRole
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

USERS = "/api/admin/users"


@pytest.fixture
def k(owner, key_for):
    return key_for(owner)


# --- hard delete ----------------------------------------------------------------


def test_hard_delete_needs_the_email_and_the_keys_users_password(call, k, member):
    url = f"{USERS}/{member.pk}/hard-delete"
    status, body, _ = call("post", url, k, {"confirm_email": member.email})
    assert status == 400  # the password is required by the schema
    wrong = {"confirm_email": member.email, "current_password": "not-it"}
    status, body, _ = call("post", url, k, wrong)
    assert (status, body["error"]) == (403, "reauthentication_required")
    mistyped = {"confirm_email": "other@example.com", "current_password": STRONG_PASSWORD}
    status, body, _ = call("post", url, k, mistyped)
    assert (status, body["error"]) == (400, "confirm_mismatch")
    assert User.objects.filter(pk=member.pk).exists()
    right = {"confirm_email": member.email, "current_password": STRONG_PASSWORD}
    assert call("post", url, k, right)[0] == 204
    assert not User.objects.filter(pk=member.pk).exists()
    assert AuditEvent.objects.filter(
        action="accounts.user.erased", target_id=str(member.pk), outcome="success"
    ).exists()


def test_hard_delete_keeps_the_pages_guard(call, key_for, admin_user, owner):
    """A peer's or the owner's account is refused by `check_can_erase`, even
    with the right password."""
    peer = make_user("peer-admin@example.com", roles=["admin"])
    k = key_for(admin_user)
    for target in (peer, owner):
        body = {"confirm_email": target.email, "current_password": STRONG_PASSWORD}
        status, answer, _ = call("post", f"{USERS}/{target.pk}/hard-delete", k, body)
        assert status in (403, 409), answer
        assert User.objects.filter(pk=target.pk).exists()


def test_hard_delete_without_users_delete_scope_is_403(call, key_for, owner, member):
    k = key_for(owner, scopes=["users:read"])
    body = {"confirm_email": member.email, "current_password": STRONG_PASSWORD}
    status, answer, _ = call("post", f"{USERS}/{member.pk}/hard-delete", k, body)
    assert status == 403
    assert User.objects.filter(pk=member.pk).exists()


# --- roles ----------------------------------------------------------------------


def test_assign_and_remove_a_role(call, k, member):
    status, body, _ = call("post", f"{USERS}/{member.pk}/roles", k, {"role": "editor"})
    assert status == 200 and "editor" in body["roles"]
    assert UserRole.objects.filter(user=member, role__slug="editor").exists()
    assert AuditEvent.objects.filter(action="rbac.user_role.assigned").exists()
    # Again: nothing changes, still 200.
    assert call("post", f"{USERS}/{member.pk}/roles", k, {"role": "editor"})[0] == 200
    status, body, _ = call("delete", f"{USERS}/{member.pk}/roles/editor", k)
    assert status == 200 and "editor" not in body["roles"]
    assert AuditEvent.objects.filter(action="rbac.user_role.removed").exists()


def test_an_unknown_role_is_404_in_the_body_and_in_the_path(call, k, member):
    status, body, _ = call("post", f"{USERS}/{member.pk}/roles", k, {"role": "nope"})
    assert (status, body["error"]) == (404, "not_found")
    status, body, _ = call("delete", f"{USERS}/{member.pk}/roles/nope", k)
    assert (status, body["error"]) == (404, "not_found")


def test_role_assignment_keeps_escalation_and_hierarchy(call, key_for, admin_user, owner):
    k = key_for(admin_user)
    target = make_user("someone@example.com")
    status, body, _ = call("post", f"{USERS}/{target.pk}/roles", k, {"role": "owner"})
    assert status in (400, 403, 409)
    status, body, _ = call("delete", f"{USERS}/{owner.pk}/roles/owner", k)
    assert status in (403, 409)
    assert owner.roles.filter(slug="owner").exists() or User.objects.get(pk=owner.pk).is_owner


# --- list filters and export ------------------------------------------------------


@pytest.fixture
def population(owner):
    old = timezone.now() - timedelta(days=400)
    dormant = make_user("dormant@example.com", last_login=old)
    recent = make_user("recent@example.com", last_login=timezone.now())
    never = make_user("never@example.com")
    TOTPDevice.objects.create(user=recent, name="phone", confirmed=True)
    return {"dormant": dormant, "recent": recent, "never": never}


def _emails(body) -> set[str]:
    return {u["email"] for u in body}


def test_list_filters_mfa_inactive_and_sort(call, k, population, owner):
    status, body, _ = call("get", f"{USERS}?mfa=on", k)
    assert status == 200 and _emails(body) == {"recent@example.com"}
    status, body, _ = call("get", f"{USERS}?mfa=off", k)
    assert "recent@example.com" not in _emails(body) and "dormant@example.com" in _emails(body)
    cutoff = (timezone.now() - timedelta(days=30)).date().isoformat()
    status, body, _ = call("get", f"{USERS}?inactive_before={cutoff}", k)
    assert {"dormant@example.com", "never@example.com"} <= _emails(body)
    assert "recent@example.com" not in _emails(body)
    status, body, _ = call("get", f"{USERS}?sort=email", k)
    emails = [u["email"] for u in body]
    assert emails == sorted(emails)
    status, body, _ = call("get", f"{USERS}?sort=-email", k)
    assert [u["email"] for u in body] == sorted(emails, reverse=True)


def test_list_filters_are_parsed_strictly(call, k):
    for query in ("mfa=maybe", "sort=password", "inactive_before=yesterday", "status=gone"):
        status, body, _ = call("get", f"{USERS}?{query}", k)
        assert (status, body["error"]) == (400, "validation_error"), query


def test_next_page_link_keeps_the_filters(call, k, population):
    _, _, response = call("get", f"{USERS}?mfa=off&sort=email&limit=1", k)
    assert "mfa=off" in response["Link"] and "sort=email" in response["Link"]


def test_users_export_is_csv_with_the_filters_and_is_audited(client, k, population):
    response = client.get(f"{USERS}/export?mfa=on", **k)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["id", "email", "name"]
    assert [r[1] for r in rows[1:]] == ["recent@example.com"]
    assert AuditEvent.objects.filter(action="accounts.users.exported").exists()


def test_users_export_needs_users_export(call, key_for, owner, population):
    k = key_for(owner, scopes=["users:read"])
    status, body, _ = call("get", f"{USERS}/export", k)
    assert status == 403 and body["error"]
