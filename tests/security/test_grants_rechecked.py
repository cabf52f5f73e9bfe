"""Deferred grants are re-checked when used (issue 22, root 1): a reset or
sign-in link an administrator made is judged again when it is redeemed --
its maker as they are now, through the credential they made it with, on
the locked target -- and dies with that credential. Each test goes
through the real door (pages and the JSON API) and failed before."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiKey, Invitation, OneTimeToken, User
from accounts.services import passwords
from accounts.services.api_keys import api_key_create, api_key_revoke
from accounts.services.sealing import unseal
from accounts.services.users import user_ban
from audit.models import AuditEvent
from rbac import services as rbac_services
from rbac.models import Role, UserRole
from rbac.permissions import TEMPLATES
from tests.accounts.mfa_helpers import code_for
from tests.conftest import STRONG_PASSWORD, make_user

NEW_PASSWORD = "Another-Sturdy-Passphrase-77"
WITHDRAWN = "This link was withdrawn"


@pytest.fixture
def operator(db, owner):
    role = Role.objects.create(
        slug="operator", name="Operator", permissions=sorted(TEMPLATES["operator"]["permissions"])
    )
    user = make_user("operator@example.com", name="Otto Operator")
    UserRole.objects.create(user=user, role=role)
    return user


def _link_from_page(response) -> str:
    assert response.status_code == 200, response.content[:500]
    match = re.search(r'id="secret-link" value="([^"]+)"', response.content.decode())
    return match.group(1).replace("http://testserver", "")


def _magic_link_made_by(client_for, operator, member) -> str:
    client = client_for(operator)
    response = client.post(f"/users/{member.pk}/credentials/magic-link/", {"type": "signup"})
    return _link_from_page(response)


def _reset_link_made_by(client_for, operator, member) -> str:
    client = client_for(operator)
    return _link_from_page(client.post(f"/users/{member.pk}/credentials/reset-link/"))


def _refusals(action, *, actor, target):
    return AuditEvent.objects.filter(
        action=action, outcome="denied", actor_id=actor.pk, target_id=str(target.pk)
    )


def test_a_sign_in_link_is_refused_once_its_target_was_promoted(
    client_for, operator, member, owner
):
    path = _magic_link_made_by(client_for, operator, member)
    rbac_services.user_role_assign(actor=owner, user=member, role=Role.objects.get(slug="admin"))

    visitor = Client()
    assert visitor.get(path)["Location"] == "/magic/continue/"
    page = visitor.get("/magic/continue/")
    assert page.status_code == 403 and WITHDRAWN in page.content.decode()
    response = visitor.post("/magic/continue/")
    assert response.status_code == 403 and WITHDRAWN in response.content.decode()
    assert "_auth_user_id" not in visitor.session
    assert _refusals("accounts.magic_link.used", actor=operator, target=member).exists()
    assert not AuditEvent.objects.filter(action="accounts.magic_link.used", outcome="success")


def test_a_reset_link_is_refused_once_its_maker_was_banned(client_for, operator, member, owner):
    path = _reset_link_made_by(client_for, operator, member)
    user_ban(actor=owner, user=operator, reason="left the company")

    visitor = Client()
    visitor.get(path)
    response = visitor.post(
        "/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 403 and WITHDRAWN in response.content.decode()
    assert User.objects.get(pk=member.pk).check_password(STRONG_PASSWORD)
    refusal = _refusals("accounts.password.reset_completed", actor=operator, target=member).get()
    assert "no longer has an active account" in refusal.reason


def test_a_reset_link_is_refused_once_its_maker_was_demoted(client_for, operator, member):
    path = _reset_link_made_by(client_for, operator, member)
    role = Role.objects.get(slug="operator")
    role.permissions = [p for p in role.permissions if p != "users:reset-password"]
    role.save(update_fields=["permissions"])

    visitor = Client()
    visitor.get(path)
    page = visitor.get("/password/reset/continue/")
    assert page.status_code == 403
    assert "may no longer reset passwords" in page.content.decode()
    refusal = _refusals("accounts.password.reset_completed", actor=operator, target=member).get()
    assert refusal.changes == {"missing": ["users:reset-password"]}


def test_a_link_dies_with_the_session_it_was_made_in(client_for, operator, member):
    path = _magic_link_made_by(client_for, operator, member)
    client_for(operator).post("/logout/")

    visitor = Client()
    visitor.get(path)
    response = visitor.post("/magic/continue/")
    assert response.status_code == 403 and WITHDRAWN in response.content.decode()
    refusal = _refusals("accounts.magic_link.used", actor=operator, target=member).get()
    assert "session" in refusal.reason


def test_a_reset_token_made_through_a_revoked_key_is_refused(client, operator, member):
    key, raw = api_key_create(actor=operator, name="support", template="operator")
    made = client.post(
        f"/api/admin/users/{member.pk}/reset-token",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert made.status_code == 201
    token = made.json()["token"]
    assert OneTimeToken.objects.get(user=member).created_via_key_id == key.pk
    api_key_revoke(actor=operator, key=key)

    response = client.post(
        "/api/auth/password/reset",
        data=json.dumps({"token": token, "password": NEW_PASSWORD}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"] == "link_withdrawn"
    assert User.objects.get(pk=member.pk).check_password(STRONG_PASSWORD)


def test_a_link_still_works_while_its_maker_and_session_still_could_make_it(
    client_for, operator, member
):
    path = _magic_link_made_by(client_for, operator, member)
    visitor = Client()
    visitor.get(path)
    assert visitor.post("/magic/continue/")["Location"] == "/"
    assert visitor.session["_auth_user_id"] == str(member.pk)


def test_a_self_service_reset_link_has_no_maker_and_keeps_working(member, settings):
    from accounts.models import OutboundEmail

    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    passwords.password_reset_request(email=member.email)
    assert OneTimeToken.objects.get(user=member).created_by_id is None
    body = unseal(OutboundEmail.objects.get(template="password_reset").body_text)
    path = re.search(r"http://testserver(/password/reset/[^/\s]+/)", body).group(1)
    visitor = Client()
    visitor.get(path)
    response = visitor.post(
        "/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert User.objects.get(pk=member.pk).check_password(NEW_PASSWORD)


# --- keys made through a key ---------------------------------------------------

KEYS = "/api/admin/api-keys"


def _api(client, method, path, raw, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    response = getattr(client, method)(path, **kwargs)
    return response.status_code, (response.json() if response.content else None)


def test_a_key_makes_a_key_only_with_its_users_current_password(client, admin_user):
    _a, raw_a = api_key_create(actor=admin_user, name="A", template="full_access")
    status, body = _api(client, "post", KEYS, raw_a, {"name": "B", "template": "viewer"})
    assert (status, body["error"]) == (403, "reauthentication_required")
    assert "current_password" in body["detail"]
    status, body = _api(
        client,
        "post",
        KEYS,
        raw_a,
        {"name": "B", "template": "viewer", "current_password": "not-my-password"},
    )
    assert (status, body["error"]) == (403, "reauthentication_required")
    assert ApiKey.objects.filter(name="B").count() == 0


def test_revoking_a_key_revokes_the_keys_it_made_transitively(client, admin_user):
    key_a, raw_a = api_key_create(actor=admin_user, name="A", template="full_access")
    body = {"name": "B", "template": "operator", "current_password": STRONG_PASSWORD}
    status, made = _api(client, "post", KEYS, raw_a, body)
    assert status == 201
    raw_b = made["key"]
    key_b = ApiKey.objects.get(pk=made["id"])
    assert key_b.parent_id == key_a.pk
    body = {"name": "C", "template": "viewer", "current_password": STRONG_PASSWORD}
    status, made = _api(client, "post", KEYS, raw_b, body)
    assert status == 201
    raw_c = made["key"]
    assert _api(client, "get", "/api/admin/users", raw_c)[0] == 200

    assert _api(client, "delete", f"{KEYS}/{key_a.pk}", raw_a)[0] == 204
    assert _api(client, "get", "/api/admin/users", raw_b)[0] == 401
    assert _api(client, "get", "/api/admin/users", raw_c)[0] == 401
    assert set(
        ApiKey.objects.filter(name__in=["B", "C"]).values_list("revoked_reason", flat=True)
    ) == {"parent key revoked"}
    revoked = AuditEvent.objects.filter(action="accounts.api_key.revoked", outcome="success")
    assert revoked.count() == 3


def test_a_key_made_in_a_session_has_no_parent_and_outlives_it(client_for, admin_user):
    client = client_for(admin_user)
    from tests.conftest import reauthenticate

    reauthenticate(client)
    response = client.post(
        "/api-keys/new/", {"name": "dash", "template": "viewer", "expires_in_days": ""}
    )
    assert response.status_code == 200, response.content[:300]
    key = ApiKey.objects.get(name="dash")
    assert key.parent_id is None


# --- invitations ---------------------------------------------------------------

INVITER_PERMISSIONS = sorted(TEMPLATES["viewer"]["permissions"] | {"invitations:create"})


@pytest.fixture
def inviter(db, owner):
    role = Role.objects.create(slug="inviter", name="Inviter", permissions=INVITER_PERMISSIONS)
    user = make_user("inviter@example.com", name="Ines Inviter")
    UserRole.objects.create(user=user, role=role)
    return user


def test_inviting_with_a_role_needs_roles_assign_through_the_page(client_for, inviter):
    client = client_for(inviter)
    response = client.post(
        "/invitations/preview/",
        {"emails": "friend@example.com", "roles": ["viewer"], "expires_days": "7"},
    )
    assert response.status_code == 403
    assert "roles:assign" in response.content.decode()
    denied = AuditEvent.objects.get(outcome="denied", actor_id=inviter.pk)
    assert denied.action == "accounts.invitation.created"
    assert not Invitation.objects.exists()
    # Without a role the same invitation is fine.
    response = client.post(
        "/invitations/preview/", {"emails": "friend@example.com", "expires_days": "7"}
    )
    assert response.status_code == 200


def test_inviting_with_roles_or_grants_needs_the_permission_through_the_api(client, inviter, owner):
    _k, raw = api_key_create(actor=owner, user=inviter, name="inv", scopes=INVITER_PERMISSIONS)
    for body, missing in (
        ({"email": "a@example.com", "roles": ["viewer"]}, "roles:assign"),
        ({"email": "b@example.com", "template": "viewer"}, "permissions:grant"),
        ({"email": "c@example.com", "permissions": ["users:read"]}, "permissions:grant"),
    ):
        status, out = _api(client, "post", "/api/admin/invitations", raw, body)
        assert (status, out["error"]) == (403, "permission_denied"), out
        assert missing in out["detail"]
    status, out = _api(
        client,
        "post",
        "/api/admin/users",
        raw,
        {"email": "d@example.com", "roles": ["viewer"], "send_invite": True},
    )
    assert status == 403 and "roles:assign" in out["detail"]
    assert not Invitation.objects.exists()
    status, _out = _api(client, "post", "/api/admin/invitations", raw, {"email": "e@example.com"})
    assert status == 201


def test_an_invitation_dies_when_its_inviter_is_disabled(admin_user, owner):
    from accounts.services.invitations import invitation_create
    from accounts.services.users import user_disable

    _invitation, link = invitation_create(
        actor=admin_user, email="guest@example.com", roles=["viewer"]
    )
    user_disable(actor=owner, user=admin_user)
    visitor = Client()
    visitor.get(link.replace("http://testserver", ""))
    page = visitor.get("/invite/continue/")
    assert page.status_code == 400 and "needs to be sent again" in page.content.decode()
    response = visitor.post(
        "/invite/continue/",
        {"name": "Guest", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "_auth_user_id" not in visitor.session
    assert not User.objects.get(email="guest@example.com").has_usable_password()
    assert response.status_code == 400


def test_an_invitation_dies_when_its_inviter_may_no_longer_assign_roles(admin_user, owner):
    from accounts.services.invitations import invitation_create

    _invitation, link = invitation_create(
        actor=admin_user, email="guest@example.com", roles=["viewer"]
    )
    # The inviter keeps every permission the role gives, loses roles:assign.
    narrower = Role.objects.create(
        slug="almost", name="Almost admin", permissions=INVITER_PERMISSIONS
    )
    UserRole.objects.filter(user=admin_user).delete()
    UserRole.objects.create(user=admin_user, role=narrower)
    visitor = Client()
    visitor.get(link.replace("http://testserver", ""))
    assert "needs to be sent again" in visitor.get("/invite/continue/").content.decode()


def test_a_link_outlives_a_new_key_of_the_session_it_was_made_in(client_for, operator, member):
    """Re-authenticating gives the session a new key (issue 23): the same
    session goes on, and so do the links made in it."""
    client = client_for(operator)
    path = _link_from_page(client.post(f"/users/{member.pk}/credentials/reset-link/"))
    old_key = client.session.session_key
    device = TOTPDevice.objects.filter(user=operator, confirmed=True).first()
    code = code_for(device) if device else ""
    response = client.post("/account/reauthenticate/", {"password": STRONG_PASSWORD, "code": code})
    assert response.status_code == 302
    assert client.session.session_key != old_key

    visitor = Client()
    visitor.get(path)
    response = visitor.post(
        "/password/reset/continue/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code in (200, 302) and WITHDRAWN not in response.content.decode()
    assert User.objects.get(pk=member.pk).check_password(NEW_PASSWORD)
