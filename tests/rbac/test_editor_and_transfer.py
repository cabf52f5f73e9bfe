"""Two small agreements (issue 22, "Smaller things found on the way"):
the built-in editor changes no one's account but their own (seed 000:
"can edit content but not manage users"), and the transfer-super refusal's
advice works when followed."""

from __future__ import annotations

import importlib
import json
import re

import pytest

from accounts.models import User
from accounts.services.api_keys import api_key_create
from rbac.models import Role
from rbac.permissions import BUILTIN_ROLES
from tests.conftest import STRONG_PASSWORD


def _api(client, method, path, raw, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    response = getattr(client, method)(path, **kwargs)
    return response.status_code, (response.json() if response.content else None)


def test_the_editor_changes_no_one_elses_account(client_for, client, editor, member, owner):
    page = client_for(editor)
    response = page.post(
        f"/users/{member.pk}/edit/",
        {"name": "Renamed", "email": member.email, "phone": "+100", "metadata": "{}"},
    )
    assert response.status_code == 403
    _k, raw = api_key_create(
        actor=owner, user=editor, name="ed", scopes=BUILTIN_ROLES["editor"]["permissions"]
    )
    status, body = _api(client, "patch", f"/api/admin/users/{member.pk}", raw, {"name": "X"})
    assert status == 403, body
    assert User.objects.get(pk=member.pk).name == "Mona Member"


def test_the_editor_still_edits_their_own_profile(client_for, editor):
    response = client_for(editor).post("/account/profile/", {"name": "Edie", "phone": "+1"})
    assert response.status_code in (200, 302)
    assert User.objects.get(pk=editor.pk).name == "Edie"


@pytest.mark.django_db
def test_the_data_migration_brings_the_stored_editor_row_in_line_with_the_code():
    from django.apps import apps

    migration = importlib.import_module("rbac.migrations.0004_editor_changes_only_its_own_account")
    old = sorted({*BUILTIN_ROLES["editor"]["permissions"], "users:update"})
    Role.objects.update_or_create(
        slug="editor", defaults={"name": "Editor", "permissions": old, "is_builtin": True}
    )
    custom = Role.objects.create(slug="writer", name="Writer", permissions=["users:update"])
    migration.forwards(apps, None)
    role = Role.objects.get(slug="editor")
    assert sorted(role.permissions) == sorted(BUILTIN_ROLES["editor"]["permissions"])
    assert role.description == BUILTIN_ROLES["editor"]["description"]
    assert Role.objects.get(pk=custom.pk).permissions == ["users:update"]


def test_the_transfer_refusal_advice_works_when_followed(client, owner, admin_user):
    _k, raw = api_key_create(actor=owner, name="full", template="full_access")
    path = "/api/admin/users/transfer-super"
    status, body = _api(client, "post", path, raw, {"target_user_id": str(admin_user.pk)})
    assert (status, body["error"]) == (403, "reauthentication_required")
    field = re.search(r"as (\w+)", body["detail"]).group(1)
    assert field == "current_password"
    status, body = _api(
        client, "post", path, raw, {"target_user_id": str(admin_user.pk), field: STRONG_PASSWORD}
    )
    assert status == 200, body
    assert body["is_super"] is True and body["id"] == str(admin_user.pk)
