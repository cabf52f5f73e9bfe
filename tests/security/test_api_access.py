"""IDOR over the JSON API (ASVS 4.1.2, 4.1.3, 4.2.1 / 5.0 8.2.1, 8.2.2):
every object route under /api/admin/, with another user's ids, by API keys
whose scopes lack the route's permission. Routes and their methods are
enumerated from the URLconf (django-ninja registers one pattern per path,
converter `uuidstr`), so a route added later fails here until it is given
its permission below."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import STRONG_PASSWORD
from tests.security.conftest import figure
from tests.security.test_access import TARGET_EMAIL, TARGET_NAME, others_objects  # noqa: F401
from tests.test_url_rules import iter_patterns

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")

# (method, route under api/admin/) -> the permission the handler or its
# service checks. The batch route is included: its ids travel in the body.
PERMISSION = {
    ("GET", "users/<uuidstr:user_id>"): "users:read",
    ("PATCH", "users/<uuidstr:user_id>"): "users:update",
    ("DELETE", "users/<uuidstr:user_id>"): "users:delete",
    ("PATCH", "users/<uuidstr:user_id>/permissions"): "permissions:grant",
    ("POST", "users/<uuidstr:user_id>/ban"): "users:ban",
    ("POST", "users/<uuidstr:user_id>/unban"): "users:ban",
    ("POST", "users/<uuidstr:user_id>/unlock"): "users:disable",
    ("POST", "users/<uuidstr:user_id>/disable"): "users:disable",
    ("POST", "users/<uuidstr:user_id>/enable"): "users:disable",
    ("POST", "users/<uuidstr:user_id>/force-password-change"): "users:update",
    ("POST", "users/<uuidstr:user_id>/restore"): "users:delete",
    ("POST", "users/<uuidstr:user_id>/password"): "users:reset-password",
    ("POST", "users/<uuidstr:user_id>/reset-token"): "users:reset-password",
    ("POST", "users/<uuidstr:user_id>/magic-link"): "users:reset-password",
    ("GET", "users/<uuidstr:user_id>/sessions"): "sessions:read",
    ("DELETE", "users/<uuidstr:user_id>/sessions"): "sessions:revoke",
    ("DELETE", "users/<uuidstr:user_id>/sessions/<session_id>"): "sessions:revoke",
    ("GET", "users/<uuidstr:user_id>/mfa"): "mfa:read",
    ("DELETE", "users/<uuidstr:user_id>/mfa/<factor_id>"): "mfa:reset",
    ("GET", "users/<uuidstr:user_id>/export"): "users:export",
    ("POST", "users/<uuidstr:user_id>/hard-delete"): "users:delete",
    ("POST", "users/<uuidstr:user_id>/resend-verification"): "users:update-email",
    ("POST", "users/<uuidstr:user_id>/mark-verified"): "users:update-email",
    ("POST", "users/<uuidstr:user_id>/roles"): "roles:assign",
    ("DELETE", "users/<uuidstr:user_id>/roles/<slug:role>"): "roles:assign",
    ("POST", "emails/<uuidstr:email_id>/retry"): "emails:retry",
    # A job is seen by its creator and whoever holds the permission it
    # needs (here a batch ban: users:ban); cancelling acts on its creator.
    ("GET", "jobs/<uuidstr:job_id>"): "users:ban",
    ("POST", "jobs/<uuidstr:job_id>/cancel"): "users:ban",
    ("POST", "jobs/<uuidstr:job_id>/resume"): "users:ban",
    ("POST", "users/batch/<action>"): "users:ban",
    ("GET", "invitations/<uuidstr:invitation_id>"): "invitations:read",
    ("POST", "invitations/<uuidstr:invitation_id>/resend"): "invitations:create",
    ("POST", "invitations/<uuidstr:invitation_id>/revoke"): "invitations:revoke",
    ("GET", "roles/<slug>"): "roles:read",
    ("PATCH", "roles/<slug>"): "roles:update",
    ("DELETE", "roles/<slug>"): "roles:delete",
    ("DELETE", "api-keys/<uuidstr:key_id>"): "api-keys:delete",
    ("GET", "webhooks/<uuidstr:endpoint_id>"): "webhooks:read",
    ("GET", "webhooks/<uuidstr:endpoint_id>/deliveries"): "webhooks:read",
    ("PATCH", "webhooks/<uuidstr:endpoint_id>"): "webhooks:manage",
    ("DELETE", "webhooks/<uuidstr:endpoint_id>"): "webhooks:manage",
    ("POST", "webhooks/<uuidstr:endpoint_id>/rotate-secret"): "webhooks:manage",
    ("POST", "webhooks/<uuidstr:endpoint_id>/test"): "webhooks:manage",
    (
        "POST",
        "webhooks/<uuidstr:endpoint_id>/deliveries/<int:delivery_id>/replay",
    ): "webhooks:manage",
    ("GET", "organizations/<slug>"): "organizations:read",
    ("PATCH", "organizations/<slug>"): "organizations:update",
    ("DELETE", "organizations/<slug>"): "organizations:delete",
    ("GET", "organizations/<slug>/members"): "members:read",
    ("POST", "organizations/<slug>/members"): "members:manage",
    ("PATCH", "organizations/<slug>/members/<uuidstr:user_id>"): "members:manage",
    ("DELETE", "organizations/<slug>/members/<uuidstr:user_id>"): "members:manage",
    # A saved view is opened with its list's read permission (the target's
    # own users view here); only its owner changes it.
    ("GET", "views/<uuidstr:view_id>"): "users:read",
    ("PATCH", "views/<uuidstr:view_id>"): "users:read",
    ("DELETE", "views/<uuidstr:view_id>"): "users:read",
}

# Valid bodies, so a refusal comes from the permission, not the schema.
BODY = {
    ("PATCH", "users/<uuidstr:user_id>"): {"name": "Mallory was here"},
    ("PATCH", "users/<uuidstr:user_id>/permissions"): {"grant": ["users:read"]},
    ("POST", "users/<uuidstr:user_id>/ban"): {"reason": "idor"},
    ("POST", "users/<uuidstr:user_id>/password"): {"password": STRONG_PASSWORD + "x"},
    ("POST", "users/<uuidstr:user_id>/magic-link"): {"type": "recovery"},
    ("POST", "users/<uuidstr:user_id>/hard-delete"): {
        "confirm_email": TARGET_EMAIL,
        "current_password": STRONG_PASSWORD,
    },
    ("POST", "users/<uuidstr:user_id>/roles"): {"role": "editor"},
    ("PATCH", "roles/<slug>"): {"name": "Hijacked"},
    ("PATCH", "organizations/<slug>/members/<uuidstr:user_id>"): {"roles": ["admin"]},
}


def api_object_routes():
    """(method, route) for every /api/admin/ route with a path parameter."""
    seen = set()
    for route, pattern in iter_patterns():
        if not route.startswith("api/admin/") or not _PARAM.search(route):
            continue
        view = next(
            c.cell_contents
            for c in pattern.callback.__closure__
            if type(c.cell_contents).__name__ == "PathView"
        )
        for operation in view.operations:
            for method in operation.methods:
                seen.add((method, route.removeprefix("api/admin/")))
    return sorted(seen)


def test_every_api_object_route_has_a_known_permission():
    unknown = [f"{m} {r}" for m, r in api_object_routes() if (m, r) not in PERMISSION]
    assert not unknown, "give these API routes their permission here:\n" + "\n".join(unknown)


def _their_view(target):
    """The target's own, unshared saved view: nobody else's to see or change."""
    from accounts.models import SavedView

    return SavedView.objects.create(owner=target, page="users", name="Theirs", query="q=x")


@pytest.fixture
def keys(owner, admin_user, viewer):
    """Bearer headers: an administrator's key narrowed to `users:read` (the
    user could, the key may not) and a viewer's key with all of the
    viewer's permissions."""
    from accounts.services.api_keys import api_key_create
    from rbac.permissions import BUILTIN_ROLES

    _k, narrow = api_key_create(actor=owner, user=admin_user, name="narrow", scopes=["users:read"])
    _k, viewing = api_key_create(actor=owner, user=viewer, name="viewer", template="viewer")
    return {
        "users:read key": ({"users:read"}, narrow),
        "viewer key": (set(BUILTIN_ROLES["viewer"]["permissions"]), viewing),
    }


@pytest.mark.parametrize("key_name", ["users:read key", "viewer key"])
def test_api_object_routes_never_show_or_change_another_users_data_without_the_scope(
    client,
    others_objects,  # noqa: F811
    keys,
    key_name,
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import ApiKey, BatchJob, Invitation, UserSession
    from audit.models import AuditEvent
    from rbac.models import Role

    held, raw = keys[key_name]
    target = others_objects["target"]
    invitation_id, email_id, key_id, job_id = others_objects["uuid"][1:5]
    values = {
        "user_id": str(target.pk),
        "invitation_id": str(invitation_id),
        "key_id": str(key_id),
        "session_id": str(others_objects["session"].pk),
        "factor_id": others_objects["str"][0],
        "slug": "editor",
        "role": "editor",
        "email_id": str(email_id),
        "job_id": str(job_id),
        "action": "ban",
        # Nobody's endpoint: the routes answer 403 without the scope, 404 with it.
        "endpoint_id": "00000000-0000-4000-8000-000000000000",
        "delivery_id": "1",
        "view_id": str(_their_view(target).pk),
    }
    editor_before = list(Role.objects.get(slug="editor").permissions)
    tried, leaks = 0, []
    for method, route in api_object_routes():
        if PERMISSION[(method, route)] in held:
            continue
        url = "/api/admin/" + _PARAM.sub(lambda m: values[m.group("name")], route)
        body = BODY.get((method, route), {})
        if route.startswith("users/batch/"):
            body = {"user_ids": [str(target.pk)], "reason": "idor"}
        if (method, route) == ("POST", "organizations/<slug>/members"):
            body = {"user_id": str(target.pk), "roles": []}
        response = client.generic(
            method,
            url,
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        tried += 1
        text = response.content.decode(errors="replace")
        if response.status_code not in (401, 403, 404) or TARGET_EMAIL in text:
            leaks.append(f"{method} {url}: {response.status_code} {text[:200]}")
        elif TARGET_NAME in text:
            leaks.append(f"{method} {url}: name in body")

    target.refresh_from_db()
    assert target.is_active and target.deleted_at is None and target.name == TARGET_NAME
    assert target.saved_views.get().name == "Theirs"
    assert UserSession.objects.filter(pk=others_objects["session"].pk, ended_at=None).exists()
    assert TOTPDevice.objects.filter(pk=others_objects["device"].pk).exists()
    assert ApiKey.objects.get(pk=key_id).revoked_at is None
    assert Invitation.objects.get(pk=invitation_id).revoked_at is None
    assert BatchJob.objects.get(pk=job_id).status == "pending"
    assert not AuditEvent.objects.filter(
        action="accounts.email.retried", outcome="success"
    ).exists()
    assert target.roles.filter(slug="editor").exists()
    assert list(Role.objects.get(slug="editor").permissions) == editor_before
    # The control: the same key and ids do reach what the scopes allow.
    allowed = client.get(f"/api/admin/users/{target.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert allowed.status_code == 200 and allowed.json()["email"] == TARGET_EMAIL
    figure(f"api-idor[{key_name}]", requests=tried, leaks=len(leaks))
    assert tried >= 15
    assert not leaks, "\n".join(leaks)


def test_another_organizations_administrator_reaches_none_of_its_objects(
    client,
    others_objects,  # noqa: F811
):
    """An administrator of Globex, with a key holding everything they hold
    there, against the objects of a member of Acme: every object route
    answers 403 or 404 -- also those whose permission they hold -- and
    nothing changes. Role definitions (GET roles/<slug>) are not anyone's
    data and stay readable."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import ApiKey, BatchJob, Invitation, UserSession
    from accounts.services.api_keys import api_key_create
    from rbac.models import Membership, Organization, Role, UserRole
    from rbac.permissions import BUILTIN_ROLES, SCOPABLE
    from tests.conftest import make_user

    target = others_objects["target"]
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    Membership.objects.create(user=target, organization=acme)
    gil = make_user("gil@globex.example", name="Gil")
    Membership.objects.create(user=gil, organization=globex)
    UserRole.objects.create(user=gil, role=Role.objects.get(slug="org-admin"), organization=globex)
    client_of_gil = make_user("cleo@globex.example", name="Cleo")
    Membership.objects.create(user=client_of_gil, organization=globex)
    held = sorted(set(BUILTIN_ROLES["org-admin"]["permissions"]) & SCOPABLE)
    owner = target.__class__.objects.get(is_owner=True)
    _k, raw = api_key_create(actor=owner, user=gil, name="gil", scopes=held)

    invitation_id, email_id, key_id, job_id = others_objects["uuid"][1:5]
    values = {
        "user_id": str(target.pk),
        "invitation_id": str(invitation_id),
        "key_id": str(key_id),
        "session_id": str(others_objects["session"].pk),
        "factor_id": others_objects["str"][0],
        "role": "editor",
        "email_id": str(email_id),
        "job_id": str(job_id),
        "action": "ban",
        "endpoint_id": "00000000-0000-4000-8000-000000000000",
        "delivery_id": "1",
        "view_id": str(_their_view(target).pk),
    }
    tried, leaks = 0, []
    for method, route in api_object_routes():
        if (method, route) == ("GET", "roles/<slug>"):
            continue
        slug = "acme" if route.startswith("organizations/") else "editor"
        url = "/api/admin/" + _PARAM.sub(lambda m: {**values, "slug": slug}[m.group("name")], route)
        body = BODY.get((method, route), {})
        if route.startswith("users/batch/"):
            body = {"user_ids": [str(target.pk)], "reason": "idor"}
        if (method, route) == ("POST", "organizations/<slug>/members"):
            body = {"user_id": str(target.pk), "roles": []}
        response = client.generic(
            method,
            url,
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        tried += 1
        text = response.content.decode(errors="replace")
        # A batch answers per user, with the words a missing user gets.
        hidden = response.status_code in (403, 404) or (
            route.startswith("users/batch/")
            and response.status_code == 200
            and response.json()["processed"] == 0
            and "no longer exists" in text
        )
        if not hidden or TARGET_EMAIL in text or TARGET_NAME in text:
            leaks.append(f"{method} {url}: {response.status_code} {text[:200]}")

    target.refresh_from_db()
    assert target.is_active and target.deleted_at is None and target.name == TARGET_NAME
    assert target.saved_views.get().name == "Theirs"
    assert UserSession.objects.filter(pk=others_objects["session"].pk, ended_at=None).exists()
    assert TOTPDevice.objects.filter(pk=others_objects["device"].pk).exists()
    assert ApiKey.objects.get(pk=key_id).revoked_at is None
    assert Invitation.objects.get(pk=invitation_id).revoked_at is None
    assert BatchJob.objects.get(pk=job_id).status == "pending"
    assert not Membership.objects.filter(user=target, organization=globex).exists()
    assert target.roles.filter(slug="editor").exists()
    # The control: the same key reaches a member of its own organization.
    allowed = client.get(f"/api/admin/users/{client_of_gil.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert allowed.status_code == 200 and allowed.json()["email"] == client_of_gil.email
    figure("api-idor[other organization's administrator]", requests=tried, leaks=len(leaks))
    assert tried >= 40
    assert not leaks, "\n".join(leaks)
