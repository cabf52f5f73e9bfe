"""Roles pages in Chromium: the list, editing with disabled permissions and
the preview, and a user's access fragment, at desktop and phone widths."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles):
    from rbac import services
    from rbac.models import Role, UserRole

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    manager_perms = sorted(
        set(Role.objects.get(slug="admin").permissions) - {"users:delete", "audit:export"}
    )
    managers = services.role_create(
        actor=owner,
        slug="access-managers",
        name="Access managers",
        description="Run roles and access, without deleting users.",
        permissions=manager_perms,
    )
    manager = make_user("manager@example.com", name="Maya Manager")
    UserRole.objects.create(user=manager, role=managers)
    support = services.role_create(
        actor=owner,
        slug="support",
        name="Support <b>team</b>",
        description="First-line support: reads users and ends sessions.",
        permissions=["users:read", "sessions:read", "sessions:revoke"],
    )
    member = make_user("mona@example.com", name="Mona Member", roles=["viewer"])
    services.user_role_assign(actor=owner, user=member, role=support)
    services.user_permissions_update(actor=owner, user=member, grant=["emails:read"])
    return {"owner": owner, "manager": manager, "member": member}


def test_roles_pages_look_finished(live_server, page, screenshot, people):
    base = live_server.url
    open_as(page, base, "manager@example.com", "/roles/")
    expect(page.get_by_role("heading", name="Roles", exact=True)).to_be_visible()
    expect(page.get_by_text("Support <b>team</b>")).to_be_visible()  # escaped, shown literally
    screenshot(page, "roles-list", phone=True)

    page.goto(f"{base}/roles/support/edit/")
    delete_box = page.locator('input[value="users:delete"]')
    assert delete_box.is_disabled()
    page.locator('input[value="mfa:read"]').check()
    page.locator('input[value="sessions:revoke"]').uncheck()
    page.get_by_role("button", name="Preview changes").click()
    preview = page.locator(".role-preview")
    preview.wait_for()
    assert "adds 1" in preview.inner_text() and "1 user" in preview.inner_text()
    screenshot(page, "role-edit-preview", phone=True)
    page.get_by_role("button", name="Save role").click()
    page.wait_for_url(f"{base}/roles/support/")

    member = people["member"]
    page.goto(f"{base}/roles/users/{member.pk}/access/")
    page.get_by_label("Assign a role").select_option("editor")
    page.get_by_role("button", name="Assign").click()
    page.get_by_text("Mona Member now has the role Editor.").wait_for()
    expect(page.locator(".effective-table")).to_be_visible()
    screenshot(page, "user-access", phone=True)
