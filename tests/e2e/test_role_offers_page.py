"""The organization page as its administrator, at 1280 and 390 px: only
the roles they may give are offered, each saying what it leaves out there;
and the role editor marks the global-only permissions."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rbac.models import Membership, Organization, Role, UserRole
from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_role_offers_say_what_they_leave_out(live_server, page, screenshot, builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    acme = Organization.objects.create(slug="acme", name="Acme Corp")
    ada = make_user("ada@example.com", name="Ada Admin")
    cleo = make_user("cleo@example.com", name="Cleo Client")
    for user, slug in ((ada, "org-admin"), (cleo, "member")):
        Membership.objects.create(user=user, organization=acme)
        UserRole.objects.create(user=user, role=Role.objects.get(slug=slug), organization=acme)
    open_as(page, live_server.url, "ada@example.com", "/organizations/acme/")
    options = page.locator(f"#role-{cleo.pk} option").all_inner_texts()
    assert "Admin" not in " ".join(options)
    page.get_by_text("What these roles leave out in an organization").click()
    screenshot(page, "org-role-offers", phone=True)
    page.context.clear_cookies()
    open_as(page, live_server.url, "owner@example.com", "/roles/admin/edit/")
    expect(page.get_by_text("global only").first).to_be_visible()
    screenshot(page, "role-editor-global-only")


def test_why_not_on_the_access_page(live_server, page, screenshot, builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    acme = Organization.objects.create(slug="acme", name="Acme Corp")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@example.com", name="Ada Admin")
    bo = make_user("bo@example.com", name="Bo Both")
    Membership.objects.create(user=ada, organization=acme)
    UserRole.objects.create(user=ada, role=Role.objects.get(slug="org-admin"), organization=acme)
    for org in (acme, globex):
        Membership.objects.create(user=bo, organization=org)
    open_as(page, live_server.url, "owner@example.com", f"/roles/users/{ada.pk}/access/")
    page.get_by_label("Permission", exact=True).select_option("users:ban")
    page.get_by_label("Over (a user's email, optional)").fill("bo@example.com")
    page.get_by_role("button", name="Explain").click()
    answer = page.locator(".why-answer")
    answer.wait_for()
    assert "also belongs to Globex" in answer.inner_text()
    page.locator("#why").scroll_into_view_if_needed()
    screenshot(page, "why-not", phone=True)
