"""Django integration: has_perm answered from RBAC, admin model permissions
mapped to catalog permissions, and Role admin going through the services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages.storage.fallback import FallbackStorage

from audit.models import AuditEvent
from rbac import services
from rbac.actor import Actor
from rbac.models import Role, UserRole
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_has_perm_answers_from_rbac(editor, viewer, owner):
    assert editor.has_perm("emails:read")
    assert not editor.has_perm("users:ban") and not editor.has_perm("users:update")
    assert viewer.has_perm("users:read") and not viewer.has_perm("users:update")
    assert owner.has_perm("audit:export")


def test_has_perm_fails_closed_for_unknown_strings(owner, editor):
    assert not editor.has_perm("users:fly")
    assert not editor.has_perm("accounts.frobnicate_user")
    assert not owner.has_perm("users:fly")


def test_has_perm_follows_role_changes_at_once(admin_user, member):
    assert not member.has_perm("emails:read")
    services.user_role_assign(actor=admin_user, user=member, role=Role.objects.get(slug="editor"))
    assert member.has_perm("emails:read")


def test_inactive_users_hold_nothing(admin_user):
    from django.utils import timezone

    admin_user.disabled_at = timezone.now()
    assert not admin_user.has_perm("users:read")
    assert not admin_user.is_staff


def test_admin_model_permissions_map_to_rbac(owner):
    operator = make_user("op@example.com")
    UserRole.objects.create(
        user=operator,
        role=services.role_create(
            actor=owner,
            slug="ops",
            name="Ops",
            permissions=["users:read", "users:update", "roles:read"],
        ),
    )
    assert operator.is_staff  # users:update is a management permission
    assert operator.has_perm("accounts.view_user")
    assert operator.has_perm("accounts.change_user")
    assert not operator.has_perm("accounts.delete_user")
    assert not operator.has_perm("accounts.add_user")
    assert operator.has_perm("rbac.view_role")
    assert not operator.has_perm("rbac.change_role")
    assert operator.has_module_perms("accounts")
    assert not operator.has_module_perms("auth")


def test_viewer_is_not_staff(viewer):
    assert not viewer.is_staff


def _request(rf, user, method="post"):
    request = getattr(rf, method)("/admin/rbac/role/")
    request.user, request.actor = user, Actor.for_session(user, "test-session")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _model_admin():
    return admin.site._registry[Role]


def test_role_admin_has_no_bulk_delete_and_protects_builtins(rf, admin_user):
    model_admin = _model_admin()
    request = _request(rf, admin_user, "get")
    assert model_admin.get_actions(request) == {}
    assert not model_admin.has_delete_permission(request, Role.objects.get(slug="editor"))
    custom = services.role_create(actor=admin_user, slug="c", name="C")
    assert model_admin.has_delete_permission(request, custom)


def test_role_admin_reads_with_roles_read_only(rf, viewer, editor):
    model_admin = _model_admin()
    request = _request(rf, viewer, "get")
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)


def test_role_admin_save_goes_through_the_service(rf, admin_user):
    model_admin = _model_admin()
    form_class = model_admin.get_form(_request(rf, admin_user))
    form = form_class(data={"slug": "auditors", "name": "Auditors", "permissions": ["audit:read"]})
    assert form.is_valid(), form.errors
    obj = form.save(commit=False)
    model_admin.save_model(_request(rf, admin_user), obj, form, change=False)
    assert Role.objects.get(slug="auditors").permissions == ["audit:read"]
    assert AuditEvent.objects.filter(action="rbac.role.created").count() == 1


def test_role_admin_save_obeys_the_escalation_guard(rf, owner):
    limited = make_user("lim@example.com")
    UserRole.objects.create(
        user=limited,
        role=services.role_create(
            actor=owner, slug="rc", name="RC", permissions=["roles:create", "roles:read"]
        ),
    )
    model_admin = _model_admin()
    request = rf.post(
        "/admin/rbac/role/add/", {"slug": "big", "name": "Big", "permissions": ["users:delete"]}
    )
    request.user, request.actor = limited, Actor.for_session(limited, "test-session")
    request.session, request._dont_enforce_csrf_checks = {}, True
    request._messages = FallbackStorage(request)
    response = model_admin.add_view(request)
    # The admin redirects back to the form, logging nothing as done.
    assert response.status_code == 302 and response["Location"] == "/admin/rbac/role/add/"
    assert not LogEntry.objects.exists()
    assert not Role.objects.filter(slug="big").exists()
    assert [str(m) for m in request._messages] == [
        "You cannot grant permissions you do not hold: users:delete."
    ]
    assert AuditEvent.objects.filter(action="rbac.role.created", outcome="denied").count() == 1


def test_role_admin_delete_goes_through_the_service(rf, admin_user, member):
    custom = services.role_create(actor=admin_user, slug="c", name="C")
    services.user_role_assign(actor=admin_user, user=member, role=custom)
    model_admin = _model_admin()
    model_admin.delete_model(_request(rf, admin_user), custom)
    assert not Role.objects.filter(slug="c").exists()
    assert AuditEvent.objects.filter(action="rbac.user_role.removed").count() == 1
    viewer = Role.objects.get(slug="viewer")
    refused = _request(rf, admin_user)
    refused.POST, refused._dont_enforce_csrf_checks = {"post": "yes"}, True
    response = model_admin.delete_view(refused, str(viewer.pk))
    # The admin redirects back, logging nothing as done.
    assert response.status_code == 302 and response["Location"] == refused.path
    assert Role.objects.filter(pk=viewer.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION, object_id=str(viewer.pk)).exists()
