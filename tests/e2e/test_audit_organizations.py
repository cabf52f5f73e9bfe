"""The audit log's organization filter and column in Chromium, at 1280 and
390 px: the owner filters by one organization; an organization's auditor
sees only what happened there (not another organization's role change on
a member they share)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rbac import services
from rbac.actor import Actor
from rbac.models import Membership, Organization, Role, UserRole
from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audit_log_by_organization(live_server, page, screenshot, builtin_roles):
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    acme = Organization.objects.create(slug="acme", name="Acme Corp")
    globex = Organization.objects.create(slug="globex", name="Globex")
    auditor, _ = Role.objects.get_or_create(
        slug="org-auditor", defaults={"name": "Org auditor", "permissions": ["audit:read"]}
    )
    ada = make_user("ada@example.com", name="Ada Auditor")
    Membership.objects.create(user=ada, organization=acme)
    UserRole.objects.create(user=ada, role=auditor, organization=acme)
    bo = make_user("bo@example.com", name="Bo Both")
    as_owner = Actor.console(owner)
    viewer = Role.objects.get(slug="viewer")
    for org in (acme, globex):
        services.member_add(actor=as_owner, organization=org, user=bo, roles=["member"])
        services.org_role_assign(actor=as_owner, organization=org, user=bo, role=viewer)

    base = live_server.url
    open_as(page, base, "owner@example.com", "/audit/?organization=acme")
    expect(page.get_by_label("Organization")).to_have_value("acme")
    # Bo joined Acme; Bo got Viewer there
    expect(page.locator("table.audit-table tbody tr")).to_have_count(2)
    expect(page.locator(".audit-org", has_text="Acme Corp")).to_have_count(2)
    expect(page.locator(".audit-org", has_text="Globex")).to_have_count(0)
    screenshot(page, "audit-by-organization", phone=True)
    page.context.clear_cookies()

    open_as(page, base, "ada@example.com", "/audit/")
    results = page.locator("#audit-results")
    expect(results).to_contain_text("Acme Corp")
    expect(results).not_to_contain_text("Globex")
    screenshot(page, "audit-organization-auditor", phone=True)
