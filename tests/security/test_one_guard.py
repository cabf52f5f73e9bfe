"""The outside review's findings, one test each, named after the rule it
defends. Each failed on the code before "one guard, one action"."""

from __future__ import annotations

import json

import pytest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiKey, User, UserSession
from accounts.services import invitations, users
from accounts.services.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from accounts.services.passwords import password_set_by_admin
from audit.services import audit_scrub_user
from rbac import services as rbac_services
from rbac.models import Role, UserRole
from rbac.permissions import TEMPLATES
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD, make_user

USERS = "/api/admin/users"


def _role(slug):
    return Role.objects.get(slug=slug)


def _with_perms(email, perms):
    role = Role.objects.create(slug=email.split("@")[0], name=email, permissions=sorted(perms))
    user = make_user(email)
    UserRole.objects.create(user=user, role=role)
    return user


def _key(user, scopes):
    _key_obj, raw = api_key_create(actor=user, name="k", scopes=scopes)
    return _key_obj, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _call(client, method, path, headers, body=None):
    kwargs = dict(headers)
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    response = getattr(client, method)(path, **kwargs)
    return response.status_code, (response.json() if response.content else None)


# 1 -------------------------------------------------------------------------


def test_reinviting_a_pending_account_needs_every_permission_it_will_hold(owner):
    pending = users.user_create(actor=owner, email="pending@example.com", roles=["admin"])
    inviter = _with_perms("inviter@example.com", {"invitations:create", "users:read"})
    with pytest.raises(PolicyDenied) as exc:
        invitations.invitation_create(actor=inviter, email=pending.email)
    assert exc.value.code == "escalation"
    assert "users:ban" in exc.value.message
    assert not pending.invitations.exists()


def test_a_revoked_invitation_cannot_be_renewed_by_someone_who_could_not_grant_the_account(owner):
    invitation, _ = invitations.invitation_create(actor=owner, email="p2@example.com")
    invitations.invitation_revoke(actor=owner, invitation=invitation)
    rbac_services.user_role_assign(actor=owner, user=invitation.user, role=_role("admin"))
    inviter = _with_perms("inviter@example.com", {"invitations:create", "users:read"})
    with pytest.raises(PolicyDenied) as exc:
        invitations.invitation_create(actor=inviter, email="p2@example.com")
    assert exc.value.code == "escalation"


def test_a_role_given_to_a_pending_account_after_its_invitation_voids_the_link(owner):
    inviter = _with_perms("inviter@example.com", {"invitations:create", "users:read"})
    invitation, link = invitations.invitation_create(actor=inviter, email="p3@example.com")
    rbac_services.user_role_assign(actor=owner, user=invitation.user, role=_role("admin"))
    token = link.rstrip("/").rsplit("/", 1)[-1]
    with pytest.raises(invitations.InvitationInvalid) as exc:
        invitations.invitation_accept(token=token, name="X", password=STRONG_PASSWORD)
    assert exc.value.reason == "outdated"
    assert not User.objects.get(email="p3@example.com").has_usable_password()


# 2 -------------------------------------------------------------------------


def test_a_key_cannot_change_its_own_users_email_without_the_password(client, owner):
    admin = make_user("adm@example.com", roles=["admin"])
    _k, narrow = _key(admin, ["users:update", "users:read"])
    status, body = _call(client, "patch", f"{USERS}/{admin.pk}", narrow, {"email": "x@evil.test"})
    assert (status, body["error"]) == (403, "permission_denied")
    _k, wide = _key(admin, ["users:update", "users:update-email", "users:read"])
    status, body = _call(client, "patch", f"{USERS}/{admin.pk}", wide, {"email": "x@evil.test"})
    assert (status, body["error"]) == (403, "reauthentication_required")
    assert User.objects.get(pk=admin.pk).email == "adm@example.com"
    status, body = _call(
        client,
        "patch",
        f"{USERS}/{admin.pk}",
        wide,
        {"email": "new@example.com", "current_password": STRONG_PASSWORD},
    )
    assert status == 200 and body["email"] == "new@example.com"


# 3 -------------------------------------------------------------------------


def test_a_read_only_key_cannot_touch_its_own_users_factors_sessions_or_keys(client, owner):
    from accounts.security import factors_for_user

    admin = make_user("adm@example.com", roles=["admin"])
    TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    StaticDevice.objects.create(user=admin, name="codes", confirmed=True)
    UserSession.objects.create(session_key="s" * 32, user=admin)
    full_key, _ = _key(admin, sorted(TEMPLATES["full_access"]["permissions"]))
    _k, read_only = _key(admin, ["users:read"])
    factor = factors_for_user(admin)[0].id
    assert _call(client, "delete", f"{USERS}/{admin.pk}/mfa/{factor}", read_only)[0] == 403
    assert _call(client, "delete", f"{USERS}/{admin.pk}/sessions", read_only)[0] == 403
    assert _call(client, "delete", f"/api/admin/api-keys/{full_key.pk}", read_only)[0] == 403
    assert TOTPDevice.objects.filter(user=admin).exists()
    assert UserSession.objects.filter(user=admin, ended_at__isnull=True).exists()
    assert ApiKey.objects.get(pk=full_key.pk).status == "active"


def test_a_scoped_key_still_needs_the_password_for_its_own_users_factors(client, owner):
    from accounts.security import factors_for_user

    admin = make_user("adm@example.com", roles=["admin"])
    TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    _k, mfa_key = _key(admin, ["mfa:reset", "users:read"])
    factor = factors_for_user(admin)[0].id
    status, body = _call(client, "delete", f"{USERS}/{admin.pk}/mfa/{factor}", mfa_key)
    assert (status, body["error"]) == (403, "reauthentication_required")
    status, _ = _call(
        client,
        "delete",
        f"{USERS}/{admin.pk}/mfa/{factor}",
        mfa_key,
        {"current_password": STRONG_PASSWORD},
    )
    assert status == 204 and not TOTPDevice.objects.filter(user=admin).exists()


# 4 -------------------------------------------------------------------------


def test_only_a_full_access_owner_key_with_the_password_transfers_ownership(client, owner):
    target = make_user("next@example.com", roles=["admin"])
    _k, viewer_key = _key(owner, sorted(TEMPLATES["viewer"]["permissions"]))
    body = {"target_user_id": str(target.pk), "password": STRONG_PASSWORD}
    status, out = _call(client, "post", f"{USERS}/transfer-super", viewer_key, body)
    assert (status, out["error"]) == (403, "permission_denied")
    _k, full = _key(owner, sorted(TEMPLATES["full_access"]["permissions"]))
    status, out = _call(
        client, "post", f"{USERS}/transfer-super", full, {"target_user_id": str(target.pk)}
    )
    assert (status, out["error"]) == (403, "reauthentication_required")
    assert User.objects.get(pk=owner.pk).is_owner


# 5 -------------------------------------------------------------------------


def test_editing_or_deleting_a_role_held_by_users_out_of_reach_is_refused(owner):
    make_user("a1@example.com", roles=["admin"])
    make_user("a2@example.com", roles=["admin"])
    manager = _with_perms(
        "manager@example.com",
        TEMPLATES["manager"]["permissions"] | {"roles:update", "roles:delete"},
    )
    admin_role = _role("admin")
    with pytest.raises(PolicyDenied) as exc:
        rbac_services.role_update(
            actor=manager,
            role=admin_role,
            permissions=sorted(set(admin_role.permissions) - {"users:ban", "users:delete"}),
        )
    assert exc.value.code == "hierarchy"
    assert "2 of its members are users you cannot manage" in exc.value.message
    assert "users:ban" in _role("admin").permissions
    custom = Role.objects.create(slug="support", name="Support", permissions=["users:read"])
    UserRole.objects.create(user=User.objects.get(email="a1@example.com"), role=custom)
    with pytest.raises(PolicyDenied) as exc:
        rbac_services.role_delete(actor=manager, role=custom, confirm=True)
    assert "1 of its members is a user you cannot manage" in exc.value.message
    assert Role.objects.filter(slug="support").exists()


# 6 -------------------------------------------------------------------------


def test_admins_cannot_act_on_each_other(owner):
    first = make_user("a1@example.com", roles=["admin"])
    second = make_user("a2@example.com", roles=["admin"])
    for call in (
        lambda: users.user_ban(actor=first, user=second),
        lambda: users.user_delete(actor=first, user=second),
        lambda: password_set_by_admin(actor=first, user=second, password=STRONG_PASSWORD + "x"),
    ):
        with pytest.raises(PolicyDenied) as exc:
            call()
        assert exc.value.code == "peer"
        assert exc.value.message == (
            "This user holds the same permissions as you; only someone with more access "
            "(or the owner) can manage them."
        )
    assert User.objects.get(pk=second.pk).status == "active"
    users.user_ban(actor=owner, user=second)  # the owner acts on everyone


# 7 -------------------------------------------------------------------------


def test_an_admin_cannot_revoke_the_owners_keys(owner, admin_user):
    key, _ = api_key_create(actor=owner, name="owner's", template="viewer")
    with pytest.raises(PolicyDenied) as exc:
        api_key_revoke(actor=admin_user, key=key)
    assert exc.value.code == "owner_protected"
    assert ApiKey.objects.get(pk=key.pk).status == "active"


# 8 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "undo", "reason"),
    [
        (users.user_ban, users.user_unban, "banned"),
        (users.user_delete, users.user_restore, "deleted"),
        (users.user_disable, users.user_enable, "disabled"),
    ],
)
def test_ending_a_users_access_revokes_their_keys_for_good(client, owner, end, undo, reason):
    operator = make_user("op@example.com", roles=[])
    operator.direct_permissions = sorted(TEMPLATES["operator"]["permissions"])
    operator.save()
    key, raw = api_key_create(actor=operator, name="ci", template="viewer")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    end(actor=owner, user=operator)
    undo(actor=owner, user=operator)
    assert User.objects.get(pk=operator.pk).status == "active"
    assert client.get(USERS, **headers).status_code == 401
    key.refresh_from_db()
    assert (key.status, key.revoked_reason) == ("revoked", reason)


def test_losing_the_last_management_permission_revokes_the_keys(owner):
    operator = make_user("op@example.com", roles=[])
    rbac_services.user_permissions_update(
        actor=owner, user=operator, grant=sorted(TEMPLATES["operator"]["permissions"])
    )
    key, _ = api_key_create(actor=operator, name="ci", template="viewer")
    reader, _ = api_key_create(actor=owner, name="mine", template="viewer")
    rbac_services.user_permissions_update(
        actor=owner,
        user=operator,
        revoke=sorted(TEMPLATES["operator"]["permissions"] - TEMPLATES["viewer"]["permissions"]),
    )
    key.refresh_from_db()
    assert (key.status, key.revoked_reason) == ("revoked", "no management permission")
    assert ApiKey.objects.get(pk=reader.pk).status == "active"


# 9 -------------------------------------------------------------------------


def test_scrubbing_a_deleted_users_audit_trail_needs_the_hierarchy_over_them(owner):
    admin = make_user("adm@example.com", roles=["admin"])
    users.user_delete(actor=owner, user=admin)
    manager = _with_perms("manager@example.com", TEMPLATES["manager"]["permissions"])
    with pytest.raises(PolicyDenied) as exc:
        audit_scrub_user(actor=manager, user_id=admin.pk)
    assert exc.value.code == "hierarchy"
    assert audit_scrub_user(actor=owner, user_id=admin.pk) is not None


# 10 ------------------------------------------------------------------------


def test_the_editor_changes_no_one_elses_account_and_a_profile_role_edits_profiles_only(
    editor, member
):
    # Seed 000: the built-in editor "can edit content but not manage users".
    with pytest.raises(PolicyDenied) as exc:
        users.user_update(actor=editor, user=member, name="Mona M.")
    assert exc.value.message == "You need the permission users:update to do this."
    editor = _with_perms("profiles@example.com", {"users:read", "users:update"})
    with pytest.raises(PolicyDenied) as exc:
        users.user_update(actor=editor, user=member, email="takeover@example.com")
    assert exc.value.message == "You need the permission users:update-email to do this."
    with pytest.raises(PolicyDenied) as exc:
        users.user_force_password_change(actor=editor, user=member)
    assert exc.value.message == "You need the permission users:reset-password to do this."
    users.user_update(actor=editor, user=member, name="Mona M.", phone="+44 1234")
    member.refresh_from_db()
    assert (member.email, member.name, member.must_change_password) == (
        "member@example.com",
        "Mona M.",
        False,
    )


def test_an_invitation_to_an_active_account_is_a_conflict(client, owner, member):
    _k, headers = _key(owner, sorted(TEMPLATES["full_access"]["permissions"]))
    status, body = _call(client, "post", "/api/admin/invitations", headers, {"email": member.email})
    assert (status, body["error"]) == (409, "user_exists")
    assert body["detail"] == (
        "member@example.com already has an account. Manage it from the Users page instead."
    )


# A job runs later, in a worker: it must act with the credential's scopes,
# not with everything its user holds.


def test_a_batch_job_from_a_narrow_key_acts_only_within_the_key(owner):
    from accounts.services import batch

    admin = make_user("adm@example.com", roles=["admin"])
    manager = _with_perms("manager@example.com", TEMPLATES["manager"]["permissions"])
    members = [make_user(f"m{i}@example.com") for i in range(3)]
    _k, headers = _key(admin, ["users:read", "users:ban"])
    ids = [str(u.pk) for u in [*members, manager]]
    # The user as a request through that key sees them (a large batch from
    # the API or the page becomes a job like this one).
    key_user = api_key_authenticate(headers["HTTP_AUTHORIZATION"].split()[1])
    job = batch.batch_job_create(actor=key_user, action="ban", user_ids=ids)
    assert batch.batch_job_run(job.pk, runner="test") == "done"
    assert User.objects.get(pk=manager.pk).status == "active"  # beyond the key's reach
    assert all(User.objects.get(pk=m.pk).status == "banned" for m in members)


def test_an_invitation_import_from_a_narrow_key_grants_only_what_the_key_holds(owner):
    from accounts.models import Invitation
    from accounts.services import invitation_import

    admin = make_user("adm@example.com", roles=["admin"])
    _k, headers = _key(admin, ["invitations:create", "users:read"])
    key_user = api_key_authenticate(headers["HTTP_AUTHORIZATION"].split()[1])
    rows = [{"email": "new@example.com", "name": "", "roles": ["admin"]}]
    job = invitation_import.invitation_import_start(actor=key_user, rows=rows)
    invitation_import.invitation_import_run(job.pk, runner="test")
    assert not Invitation.objects.filter(email="new@example.com").exists()


def test_a_profile_update_that_changes_nothing_still_needs_its_guard(client, owner, member):
    """An empty PATCH must not answer a key without users:update (or even
    users:read) with the user's record."""
    reader = _with_perms("reader@example.com", {"users:read", "api-keys:create"})
    _k, headers = _key(reader, ["users:read"])
    status, body = _call(client, "patch", f"{USERS}/{member.pk}", headers, {})
    assert (status, body["error"]) == (403, "permission_denied")
    status, body = _call(client, "patch", f"{USERS}/{member.pk}", headers, {"email": member.email})
    assert (status, body["error"]) == (403, "permission_denied")
