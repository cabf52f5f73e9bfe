"""Every dashboard action through the API: same services, same guards,
same audit."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import Invitation, OutboundEmail, User, UserSession
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

USERS = "/api/admin/users"


@pytest.fixture
def k(owner, key_for):
    return key_for(owner)


def test_ban_with_duration_and_reason_then_unban(call, k, member):
    status, body, _ = call(
        "post", f"{USERS}/{member.pk}/ban", k, {"duration_hours": 48, "reason": "spam"}
    )
    assert status == 200 and body["status"] == "banned" and body["ban_reason"] == "spam"
    assert AuditEvent.objects.filter(
        action="accounts.user.banned", target_id=str(member.pk)
    ).exists()
    status, body, _ = call("post", f"{USERS}/{member.pk}/unban", k, {})
    assert status == 200 and body["status"] == "active"


def test_ban_in_the_past_is_400(call, k, member):
    status, body, _ = call("post", f"{USERS}/{member.pk}/ban", k, {"until": "2001-01-01T00:00:00Z"})
    assert status == 400
    assert User.objects.get(pk=member.pk).status == "active"


@pytest.mark.parametrize(
    "action,expected",
    [("disable", "disabled"), ("force-password-change", "active")],
)
def test_status_actions(call, k, member, action, expected):
    status, body, _ = call("post", f"{USERS}/{member.pk}/{action}", k, {})
    assert status == 200 and body["status"] == expected


def test_delete_then_restore(call, k, member):
    assert call("delete", f"{USERS}/{member.pk}", k)[0] == 204  # seed 003
    assert User.objects.get(pk=member.pk).status == "deleted"  # soft: restorable
    status, body, _ = call("post", f"{USERS}/{member.pk}/restore", k, {})
    assert status == 200 and body["status"] == "active"


def test_update_profile_and_bad_metadata(call, k, member):
    status, body, _ = call("patch", f"{USERS}/{member.pk}", k, {"name": "Mona Lisa"})
    assert status == 200 and body["name"] == "Mona Lisa"
    status, body, _ = call("patch", f"{USERS}/{member.pk}", k, {"metadata": {"x": "y" * 20000}})
    assert status == 400


def test_reset_password_directly_ends_sessions(call, k, member):
    UserSession.objects.create(session_key="s" * 32, user=member)
    status, body, _ = call(
        "post", f"{USERS}/{member.pk}/password", k, {"password": "A-fresh-passphrase-77"}
    )
    assert status == 200
    member.refresh_from_db()
    assert member.check_password("A-fresh-passphrase-77")
    assert not UserSession.objects.filter(user=member, ended_at__isnull=True).exists()


def test_weak_password_is_400_with_the_validator_message(call, k, member):
    status, body, _ = call("post", f"{USERS}/{member.pk}/password", k, {"password": "short"})
    assert status == 400 and "too short" in body["detail"]


def test_reset_token_is_returned_once_with_expiry(call, k, member):
    status, body, _ = call("post", f"{USERS}/{member.pk}/reset-token", k, {})
    assert status == 201
    assert set(body) == {"token", "expires_at", "link"}
    assert body["token"] in body["link"]


@pytest.mark.parametrize("kind", ["signup", "recovery", "invite"])
def test_magic_link_types(call, k, member, kind):
    status, body, _ = call("post", f"{USERS}/{member.pk}/magic-link", k, {"type": kind})
    assert status == 200 and body["success"] and body["type"] == kind
    assert body["magic_link"].startswith("http")


def test_magic_link_unknown_type_is_400(call, k, member):
    assert call("post", f"{USERS}/{member.pk}/magic-link", k, {"type": "teleport"})[0] == 400


def test_sessions_list_and_revoke(call, k, member):
    session = UserSession.objects.create(session_key="a" * 32, user=member, user_agent="UA")
    UserSession.objects.create(session_key="b" * 32, user=member)
    status, body, _ = call("get", f"{USERS}/{member.pk}/sessions", k)
    assert status == 200 and len(body) == 2
    assert call("delete", f"{USERS}/{member.pk}/sessions/{session.pk}", k)[0] == 204
    assert call("get", f"{USERS}/{member.pk}/sessions", k)[1].__len__() == 1
    assert call("delete", f"{USERS}/{member.pk}/sessions", k)[0] == 204
    assert call("get", f"{USERS}/{member.pk}/sessions", k)[1] == []


def test_mfa_factors_list_and_remove(call, k, member):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=member, name="Phone", confirmed=True)
    status, body, _ = call("get", f"{USERS}/{member.pk}/mfa", k)
    assert status == 200 and body[0]["id"] == f"totp-{device.pk}"
    assert call("delete", f"{USERS}/{member.pk}/mfa/totp-{device.pk}", k)[0] == 204
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert call("delete", f"{USERS}/{member.pk}/mfa/totp-999999", k)[0] == 404


def test_export_of_one_user(call, k, member):
    status, body, _ = call("get", f"{USERS}/{member.pk}/export", k)
    assert status == 200 and body["profile"]["email"] == member.email


def test_unknown_user_is_404_and_malformed_id_is_404(call, k):
    assert call("get", f"{USERS}/{uuid.uuid4()}", k)[0] == 404
    assert call("get", f"{USERS}/not-a-uuid", k)[0] == 404


# --- batch -------------------------------------------------------------------


def test_batch_ban_reports_each_item(call, admin_user, key_for, owner, member):
    other = make_user("other@example.com")
    unknown = str(uuid.uuid4())
    ids = [
        str(member.pk),
        str(member.pk),
        unknown,
        str(admin_user.pk),
        str(owner.pk),
        str(other.pk),
        "junk",
    ]
    status, body, _ = call(
        "post", f"{USERS}/batch/ban", key_for(admin_user), {"user_ids": ids, "reason": "x"}
    )
    assert status == 200
    assert body["processed"] == 2
    errors = {e["user_id"]: e["error"] for e in body["errors"]}
    assert unknown in errors and "junk" in errors
    items = {i["user_id"]: i for i in body["items"]}
    assert items[str(admin_user.pk)]["outcome"] == "skipped"
    assert items[str(admin_user.pk)]["reason"] == "You cannot ban yourself."
    assert items[str(owner.pk)]["outcome"] == "skipped"
    assert items[str(owner.pk)]["reason"] == "The owner cannot be banned."
    assert body["skipped"] >= 2
    assert body["success"] is False
    assert User.objects.get(pk=owner.pk).status == "active"
    assert User.objects.get(pk=admin_user.pk).status == "active"
    assert User.objects.get(pk=other.pk).status == "banned"
    batch_ids = set(
        AuditEvent.objects.filter(action="accounts.user.banned").values_list("batch_id", flat=True)
    )
    assert len(batch_ids) == 1 and None not in batch_ids


def test_batch_dry_run_changes_nothing(call, k, member):
    status, body, _ = call(
        "post", f"{USERS}/batch/disable", k, {"user_ids": [str(member.pk)], "dry_run": True}
    )
    assert status == 200 and body["dry_run"] is True and body["processed"] == 1
    assert User.objects.get(pk=member.pk).status == "active"


def test_batch_unknown_action_is_404(call, k, member):
    status, body, _ = call("post", f"{USERS}/batch/explode", k, {"user_ids": [str(member.pk)]})
    assert status == 404 and body["error"] == "unknown_action"


def test_batch_over_the_limit_is_400(call, k):
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    status, body, _ = call("post", f"{USERS}/batch/ban", k, {"user_ids": ids})
    assert status == 400


def test_batch_assign_role(call, k, member):
    status, body, _ = call(
        "post", f"{USERS}/batch/assign-role", k, {"user_ids": [str(member.pk)], "role": "viewer"}
    )
    assert status == 200 and body["processed"] == 1
    assert list(User.objects.get(pk=member.pk).roles.values_list("slug", flat=True)) == ["viewer"]


# --- invitations, roles, keys ------------------------------------------------


def test_invitation_create_list_resend_revoke(call, k):
    status, body, _ = call(
        "post", "/api/admin/invitations", k, {"email": "guest@example.com", "roles": ["viewer"]}
    )
    assert status == 201 and body["status"] == "pending" and body["roles"] == ["viewer"]
    assert body["link"].startswith("http")
    inv_id = body["id"]
    assert OutboundEmail.objects.filter(to="guest@example.com").exists()
    status, listing, _ = call("get", "/api/admin/invitations?status=pending", k)
    assert [i["id"] for i in listing] == [inv_id]
    old_hash = Invitation.objects.get(pk=inv_id).token_hash
    assert call("post", f"/api/admin/invitations/{inv_id}/resend", k)[0] == 200
    assert Invitation.objects.get(pk=inv_id).token_hash != old_hash
    status, body, _ = call("post", f"/api/admin/invitations/{inv_id}/revoke", k)
    assert status == 200 and body["status"] == "revoked"


def test_invitation_to_an_existing_user_is_refused(call, k, member):
    status, body, _ = call("post", "/api/admin/invitations", k, {"email": member.email})
    assert status in (400, 409)
    assert "already" in body["detail"]


def test_roles_crud(call, k):
    status, body, _ = call(
        "post", "/api/admin/roles", k, {"slug": "support", "name": "Support", "template": "viewer"}
    )
    assert status == 201 and "users:read" in body["permissions"]
    status, body, _ = call("patch", "/api/admin/roles/support", k, {"permissions": ["users:read"]})
    assert status == 200 and body["permissions"] == ["users:read"]
    status, body, _ = call("get", "/api/admin/roles", k)
    assert "support" in [r["slug"] for r in body]
    assert call("delete", "/api/admin/roles/support", k)[0] == 204
    status, body, _ = call("delete", "/api/admin/roles/admin", k)
    assert status in (400, 403, 409)


def test_api_keys_create_list_revoke(call, k):
    # A key making a key: the person's password too.
    body = {"name": "ci", "template": "viewer", "current_password": STRONG_PASSWORD}
    status, body, _ = call("post", "/api/admin/api-keys", k, body)
    assert status == 201 and body["key"].startswith("hv_")
    new_headers = {"HTTP_AUTHORIZATION": f"Bearer {body['key']}"}
    assert call("get", "/api/admin/users", new_headers)[0] == 200
    # Another credential of the key's own user: the person's password too.
    status, refused, _ = call("delete", f"/api/admin/api-keys/{body['id']}", k)
    assert (status, refused["error"]) == (403, "reauthentication_required")
    assert call("get", "/api/admin/users", new_headers)[0] == 200
    password = {"current_password": STRONG_PASSWORD}
    assert call("delete", f"/api/admin/api-keys/{body['id']}", k, password)[0] == 204
    assert call("get", "/api/admin/users", new_headers)[0] == 401


# --- public auth ---------------------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown(call, member):
    a = call("post", "/api/auth/password/forgot", {}, {"email": member.email})
    b = call("post", "/api/auth/password/forgot", {}, {"email": "ghost@example.com"})
    assert a[0] == b[0] == 202 and a[1] == b[1]


def test_reset_with_token_then_token_is_dead(call, k, member):
    _, body, _ = call("post", f"{USERS}/{member.pk}/reset-token", k, {})
    payload = {"token": body["token"], "password": "Brand-new-passphrase-5"}
    assert call("post", "/api/auth/password/reset", {}, payload)[0] == 200
    status, body2, _ = call("post", "/api/auth/password/reset", {}, payload)
    assert status in (400, 404) and set(body2) == {"error", "detail"}


def test_accept_invitation_through_the_api(call, k):
    _, body, _ = call(
        "post", "/api/admin/invitations", k, {"email": "join@example.com", "roles": ["viewer"]}
    )
    token = body["link"].rstrip("/").rsplit("/", 1)[-1]
    status, user, _ = call(
        "post",
        "/api/auth/invitations/accept",
        {},
        {"token": token, "name": "Jo", "password": "Joining-passphrase-8"},
    )
    assert (
        status == 201 and user["roles"] == ["viewer"] and user["status"] in ("active", "unverified")
    )


def test_public_endpoints_are_rate_limited(call, settings):
    settings.PASSWORD_FORGOT_LIMIT_PER_EMAIL = 2
    for _ in range(2):
        assert call("post", "/api/auth/password/forgot", {}, {"email": "x@example.com"})[0] == 202
    status, body, _ = call("post", "/api/auth/password/forgot", {}, {"email": "x@example.com"})
    assert status == 429 and body["error"] == "rate_limited"


def test_a_refused_session_end_tells_nothing_of_which_sessions_exist(
    call, key_for, admin_user, owner
):
    """The guard is asked on the locked user before the session is looked
    up: an id that exists and one that does not get the same refusal."""
    real = UserSession.objects.create(session_key="c" * 32, user=owner)
    headers = key_for(admin_user)
    existing = call("delete", f"{USERS}/{owner.pk}/sessions/{real.pk}", headers)
    missing = call("delete", f"{USERS}/{owner.pk}/sessions/{real.pk + 1000}", headers)
    assert existing[0] == missing[0] == 409  # owner_protected
    assert existing[1] == missing[1]
    assert UserSession.objects.get(pk=real.pk).ended_at is None


def test_ending_a_session_of_another_user_by_its_id_is_404(call, k, member, viewer):
    """A session id is looked up within the user named in the path."""
    theirs = UserSession.objects.create(session_key="d" * 32, user=viewer)
    assert call("delete", f"{USERS}/{member.pk}/sessions/{theirs.pk}", k)[0] == 404
    assert UserSession.objects.get(pk=theirs.pk).ended_at is None
