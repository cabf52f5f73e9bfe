"""Roles pages and the user-access fragment, through the test client."""

from __future__ import annotations

import pytest

from accounts.models import User
from audit.models import AuditEvent
from rbac import services
from rbac.models import Role, UserRole
from tests.conftest import STRONG_PASSWORD, make_user, reauthenticate

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script><b>Bold</b>'


def test_role_list_shows_member_counts_and_empty_state(client_for, admin_user, editor, viewer):
    response = client_for(admin_user).get("/roles/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "No custom roles yet" in body
    assert 'title="1 member"' in body  # editor and viewer: one each


def test_role_list_query_count_is_pinned(client_for, admin_user, django_assert_max_num_queries):
    client = client_for(admin_user)
    for i in range(15):
        services.role_create(actor=admin_user, slug=f"r{i}", name=f"Role {i}")
    with django_assert_max_num_queries(12):
        assert client.get("/roles/").status_code == 200


def test_role_create_previews_before_saving(client_for, admin_user, member):
    client = client_for(admin_user)
    data = {
        "slug": "support",
        "name": "Support",
        "description": "",
        "permissions": ["users:read", "mfa:read"],
        "step": "preview",
    }
    response = client.post("/roles/new/", data)
    body = response.content.decode()
    assert response.status_code == 200
    assert "This change <strong>adds 2</strong> and <strong>removes 0</strong>" in body
    assert not Role.objects.filter(slug="support").exists()
    response = client.post("/roles/new/", {**data, "step": "save"})
    assert response.status_code == 302
    assert response["Location"] == "/roles/support/"
    assert Role.objects.get(slug="support").permissions == ["mfa:read", "users:read"]


def test_role_edit_preview_counts_members(client_for, admin_user, member, viewer):
    client = client_for(admin_user)
    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    for user in (member, viewer):
        services.user_role_assign(actor=admin_user, user=user, role=support)
    response = client.post(
        "/roles/support/edit/",
        {"name": "Support", "permissions": ["mfa:read"], "step": "preview"},
        **HX,
    )
    body = response.content.decode()
    assert (
        "<strong>adds 1</strong> and <strong>removes 1</strong> permission for "
        "<strong>2 users</strong>"
    ) in body
    assert "<html" not in body  # the partial only


@pytest.fixture
def limited_member(owner, member):
    """A member whose one role grants roles:create and users:read only."""
    limited = services.role_create(
        actor=owner, slug="limited", name="Limited", permissions=["roles:create", "users:read"]
    )
    UserRole.objects.create(user=member, role=limited)
    return member


def test_permissions_you_cannot_grant_are_disabled_with_the_reason(client_for, limited_member):
    body = client_for(limited_member).get("/roles/new/").content.decode()
    assert 'value="users:read" id="perm-usersread">' in body
    assert 'value="users:ban" id="perm-usersban" disabled' in body
    assert "You do not hold this permission, so you cannot grant or remove it." in body


def test_template_picker_prefills_and_leaves_out_what_you_lack(client_for, limited_member):
    body = client_for(limited_member).get("/roles/new/?template=viewer", **HX).content.decode()
    assert "Prefilled from the Viewer template." in body
    assert (
        "Left out because you do not hold them: invitations:read, members:read, mfa:read, "
        "organizations:read"
    ) in body
    assert 'value="users:read" id="perm-usersread" checked' in body


def test_crafted_post_with_unheld_permission_is_refused(client_for, limited_member):
    response = client_for(limited_member).post(
        "/roles/new/",
        {"slug": "x", "name": "X", "permissions": ["users:delete"], "step": "save"},
    )
    assert response.status_code == 403
    assert "You cannot grant permissions you do not hold: users:delete." in (
        response.content.decode()
    )


def test_unknown_permission_in_a_form_is_a_form_error(client_for, admin_user):
    response = client_for(admin_user).post(
        "/roles/new/", {"slug": "x", "name": "X", "permissions": ["users:fly"], "step": "save"}
    )
    assert response.status_code == 400
    assert "Unknown permission: users:fly." in response.content.decode()


def test_slug_collision_is_a_field_error(client_for, admin_user):
    response = client_for(admin_user).post(
        "/roles/new/", {"slug": "viewer", "name": "V", "step": "save"}
    )
    assert response.status_code == 400
    assert "A role with the slug &quot;viewer&quot; already exists." in response.content.decode()


def test_html_in_role_names_is_escaped_everywhere(client_for, admin_user, member):
    client = client_for(admin_user)
    evil = services.role_create(actor=admin_user, slug="evil", name=XSS, description=XSS)
    services.user_role_assign(actor=admin_user, user=member, role=evil)
    pages = [
        "/roles/",
        "/roles/evil/",
        "/roles/evil/edit/",
        "/roles/evil/delete/",
        f"/roles/users/{member.pk}/access/",
        f"/roles/users/{member.pk}/roles/evil/remove/",
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "<script>alert" not in body, url
        assert "<b>Bold</b>" not in body, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body, url


def test_role_delete_page_asks_for_confirmation(client_for, admin_user, member):
    client = client_for(admin_user)
    support = services.role_create(actor=admin_user, slug="support", name="Support")
    services.user_role_assign(actor=admin_user, user=member, role=support)
    body = client.get("/roles/support/delete/").content.decode()
    assert "It is assigned to <strong>1 user</strong>" in body
    response = client.post("/roles/support/delete/")
    assert response.status_code == 400
    assert "Confirm to remove it from them and delete it." in response.content.decode()
    response = client.post("/roles/support/delete/", {"confirm": "yes"})
    assert response.status_code == 302
    assert not Role.objects.filter(slug="support").exists()


def test_builtin_role_delete_is_refused_with_its_message(client_for, admin_user):
    client = client_for(admin_user)
    assert "cannot be deleted" in client.get("/roles/editor/delete/").content.decode()
    response = client.post("/roles/editor/delete/", {"confirm": "yes"})
    assert response.status_code == 403
    assert "Editor is a built-in role and cannot be deleted." in response.content.decode()


def test_user_access_fragment_shows_sources(client_for, admin_user, member):
    services.user_role_assign(actor=admin_user, user=member, role=Role.objects.get(slug="viewer"))
    services.user_permissions_update(actor=admin_user, user=member, grant=["users:read"])
    response = client_for(admin_user).get(f"/roles/users/{member.pk}/access/", **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "Role: Viewer" in body and "Direct grant" in body
    assert f'hx-post="/roles/users/{member.pk}/roles/"' in body


def test_assign_and_remove_through_htmx(client_for, admin_user, member):
    client = client_for(admin_user)
    response = client.post(f"/roles/users/{member.pk}/roles/", {"role": "editor"}, **HX)
    assert "Mona Member now has the role Editor." in response.content.decode()
    assert UserRole.objects.filter(user=member, role__slug="editor").exists()
    response = client.post(f"/roles/users/{member.pk}/roles/editor/remove/", **HX)
    assert "Removed the role Editor from Mona Member." in response.content.decode()
    assert not UserRole.objects.filter(user=member, role__slug="editor").exists()


def test_assign_without_javascript_redirects_back(client_for, admin_user, member):
    response = client_for(admin_user).post(f"/roles/users/{member.pk}/roles/", {"role": "editor"})
    assert response.status_code == 302
    assert response["Location"] == f"/roles/users/{member.pk}/access/"


def test_assigning_a_deleted_role_is_a_readable_error(client_for, admin_user, member):
    response = client_for(admin_user).post(
        f"/roles/users/{member.pk}/roles/", {"role": "gone"}, **HX
    )
    assert response.status_code == 200
    assert "This role does not exist (it may have been deleted)." in response.content.decode()


def test_self_assign_through_the_page_is_refused_and_audited(client_for, admin_user):
    client = client_for(admin_user)
    body = client.get(f"/roles/users/{admin_user.pk}/access/").content.decode()
    assert "You cannot change your own roles." in body
    response = client.post(f"/roles/users/{admin_user.pk}/roles/", {"role": "editor"})
    assert response.status_code == 403
    assert "You cannot change your own roles." in response.content.decode()
    assert AuditEvent.objects.filter(action="rbac.user_role.assigned", outcome="denied").exists()


def test_direct_grants_page_diffs_checkboxes(client_for, admin_user, member):
    client = client_for(admin_user)
    response = client.post(
        f"/roles/users/{member.pk}/permissions/", {"permissions": ["users:read", "mfa:read"]}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).direct_permissions == ["mfa:read", "users:read"]
    client.post(f"/roles/users/{member.pk}/permissions/", {"permissions": ["users:read"]})
    assert User.objects.get(pk=member.pk).direct_permissions == ["users:read"]


def test_ownership_transfer_page(client_for, owner, admin_user):
    client = client_for(owner)
    reauthenticate(client)
    response = client.post("/roles/ownership/", {"target": str(admin_user.pk), "password": "nope"})
    assert response.status_code == 400
    assert "Your password is incorrect." in response.content.decode()
    response = client.post(
        "/roles/ownership/", {"target": str(admin_user.pk), "password": STRONG_PASSWORD}
    )
    assert response.status_code == 302
    assert User.objects.get(is_owner=True).pk == admin_user.pk


def test_ownership_transfer_page_is_owner_only(client_for, admin_user):
    response = client_for(admin_user).get("/roles/ownership/")
    assert response.status_code == 403
    assert "Only the owner can do this." in response.content.decode()


def test_user_section_template_loads_the_fragment(rf, member):
    from django.template.loader import render_to_string

    html = render_to_string(
        "users/sections/roles.html", {"subject": member, "request": rf.get("/")}
    )
    assert f'hx-get="/roles/users/{member.pk}/access/"' in html
    assert f'href="/roles/users/{member.pk}/access/"' in html


def test_role_detail_lists_members_with_pagination(client_for, admin_user):
    role = Role.objects.get(slug="viewer")
    for i in range(30):
        UserRole.objects.create(user=make_user(f"m{i:02}@example.com"), role=role)
    body = client_for(admin_user).get("/roles/viewer/").content.decode()
    assert "Page 1 of 2" in body
    assert body.count("list-group-item d-flex") == 25


def test_role_edit_saves_with_the_version_it_was_opened_at(client_for, admin_user):
    import re

    client = client_for(admin_user)
    services.role_create(actor=admin_user, slug="support", name="Support")
    body = client.get("/roles/support/edit/").content.decode()
    seen = re.search(r'name="updated_at" value="([^"]+)"', body).group(1)
    data = {"name": "Support", "permissions": ["users:read"], "updated_at": seen, "step": "save"}
    assert client.post("/roles/support/edit/", data).status_code == 302
    # A second save from the same (now stale) form is refused, not applied.
    response = client.post("/roles/support/edit/", {**data, "permissions": ["mfa:read"]})
    assert response.status_code == 400
    assert "Someone else changed this role while you were editing it." in (
        response.content.decode()
    )
    assert Role.objects.get(slug="support").permissions == ["users:read"]


def test_htmx_save_redirects_with_hx_redirect(client_for, admin_user):
    response = client_for(admin_user).post(
        "/roles/new/", {"slug": "ops", "name": "Ops", "step": "save"}, **HX
    )
    assert response["HX-Redirect"] == "/roles/ops/"


@pytest.mark.parametrize(
    "data",
    [
        {"name": "X" * 500, "step": "save"},
        {"name": "Ok", "updated_at": "2024-13-45T99:00", "step": "save"},
        {"name": "Ok", "permissions": ["\x00", "users:read"], "step": "preview"},
        {"name": "", "step": "save"},
    ],
)
def test_bad_role_input_never_500s(client_for, admin_user, data):
    services.role_create(actor=admin_user, slug="support", name="Support")
    response = client_for(admin_user).post("/roles/support/edit/", data)
    assert response.status_code in (200, 302, 400)


def test_bad_user_ids_and_slugs_are_404_not_500(client_for, admin_user, member):
    client = client_for(admin_user)
    assert client.get("/roles/nope/").status_code == 404
    assert client.post(f"/roles/users/{member.pk}/roles/nope/remove/").status_code == 404
    import uuid

    assert client.get(f"/roles/users/{uuid.uuid4()}/access/").status_code == 404
    response = client.post("/roles/ownership/", {"target": "not-a-uuid", "password": "x"})
    assert response.status_code == 403  # not the owner


def test_ownership_transfer_requires_recent_re_authentication(client_for, owner, admin_user):
    client = client_for(owner)
    reauthenticate(client, minutes_ago=11)
    response = client.get("/roles/ownership/")
    assert response["Location"] == "/account/reauthenticate/?next=%2Froles%2Fownership%2F"
    response = client.post(
        "/roles/ownership/", {"target": str(admin_user.pk), "password": STRONG_PASSWORD}
    )
    assert response["Location"] == "/account/reauthenticate/?next=%2Froles%2Fownership%2F"
    assert User.objects.get(is_owner=True).pk == owner.pk


def test_a_guard_refusal_a_page_answers_is_audited_like_the_apis(client_for, admin_user):
    """The owner role's editor asks check_can_edit_role outside any service;
    its refusal is the 403 page and a denied audit event, as in the API."""
    response = client_for(admin_user).get("/roles/owner/edit/")
    assert response.status_code == 403
    assert "cannot be changed" in response.content.decode()
    denied = AuditEvent.objects.filter(action="rbac.role.updated", outcome="denied")
    assert denied.filter(actor_id=admin_user.pk).count() == 1


def test_a_role_change_from_the_user_page_tells_its_other_sections_to_reload(
    client_for, admin_user, member
):
    """The Activity card reloads on `handover:user-changed` (as after a ban);
    a change that did nothing sends no such event."""
    client = client_for(admin_user)
    url = f"/roles/users/{member.pk}/roles/"
    response = client.post(url, {"role": "viewer"}, **HX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "handover:user-changed"
    again = client.post(url, {"role": "viewer"}, **HX)
    assert "already has the role" in again.content.decode()
    assert "HX-Trigger" not in again
    removed = client.post(f"/roles/users/{member.pk}/roles/viewer/remove/", **HX)
    assert removed["HX-Trigger"] == "handover:user-changed"
