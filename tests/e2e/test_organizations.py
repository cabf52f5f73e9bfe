"""Seed 004's organization flow in Chromium, at 1280 and 390 px: create an
organization, invite a client into it with a role, the client accepts,
give a second role there through the user page's organization picker,
take it away."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import Invitation
from rbac.models import Membership, Organization, UserRole
from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_seed_004_organization_flow(live_server, page, screenshot, builtin_roles, settings):
    from accounts.services.invitations import invitation_resend

    settings.SITE_URL = live_server.url
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    base = live_server.url
    open_as(page, base, "owner@example.com", "/organizations/")
    screenshot(page, "orgs-empty", phone=True)
    # 1. create an organization
    page.get_by_label("Name").fill("Acme Corp")
    page.get_by_label("Slug").fill("acme")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"{base}/organizations/acme/")
    expect(page.get_by_role("heading", name="Acme Corp", exact=True)).to_be_visible()
    # 2. invite a client into it with a role
    page.get_by_label("Email address").fill("client@example.com")
    page.get_by_label("Role in Acme Corp").first.select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("An invitation into Acme Corp is on its way")).to_be_visible()
    expect(page.get_by_text("client@example.com").first).to_be_visible()
    screenshot(page, "orgs-invited", phone=True)
    # 3. the client accepts (a fresh link, as the email would carry)
    invitation = Invitation.objects.get(email="client@example.com")
    _inv, link = invitation_resend(actor=owner, invitation=invitation)
    client_page = page.context.browser.new_page()
    client_page.goto(link)
    client_page.get_by_label("Your name").fill("Cleo Client")
    client_page.get_by_label("New password").fill(STRONG_PASSWORD)
    client_page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    client_page.get_by_role("button", name="Create my account").click()
    client_page.wait_for_load_state()
    client_page.close()
    cleo = Membership.objects.get(organization__slug="acme").user
    assert cleo.email == "client@example.com" and cleo.has_usable_password()
    assert list(
        UserRole.objects.filter(user=cleo).values_list("role__slug", "organization__slug")
    ) == [("member", "acme")]
    # 4. a second role in the organization through the picker
    page.goto(f"{base}/roles/users/{cleo.pk}/access/")
    page.get_by_label("Organization", exact=True).select_option("acme")
    page.get_by_label("Role there").select_option("viewer")
    page.get_by_role("button", name="Give role").click()
    expect(page.get_by_text("now holds Viewer in Acme Corp")).to_be_visible()
    assert UserRole.objects.filter(
        user=cleo, role__slug="viewer", organization__slug="acme"
    ).exists()
    page.goto(f"{base}/organizations/acme/")
    screenshot(page, "orgs-two-roles", phone=True)
    # 5. remove it
    page.get_by_role("button", name="Remove Viewer from client@example.com").click()
    expect(page.get_by_text("no longer holds Viewer in Acme Corp")).to_be_visible()
    assert not UserRole.objects.filter(user=cleo, role__slug="viewer").exists()
    screenshot(page, "orgs-role-removed", phone=True)


def test_the_members_table_fits_a_phone(live_server, page, screenshot, builtin_roles):
    """An organization's members table at 1280 and 390 px: the page never
    scrolls sideways and the table is never wider than the card holding
    it; every member's name, roles, role picker and Remove stay on screen."""
    from tests.conftest import DESKTOP, PHONE
    from tests.orgs.conftest import join

    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    acme = Organization.objects.create(slug="acme", name="Acme Corporation International")
    join(make_user("ada@acme.example", name="Ada Admin"), acme, "org-admin")
    join(
        make_user(
            "bartholomew.longname-with-a-very-long-address@subsidiary.acme.example",
            name="Bartholomew Ambrose Longname",
        ),
        acme,
        "member",
        "viewer",
    )
    join(make_user("cleo@acme.example", name="Cleo Client"), acme, "member")
    open_as(page, live_server.url, "owner@example.com", "/organizations/acme/")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    findings = []
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        screenshot(page, f"org-members-{size['width']}")
        excess = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('table')].filter(t => {
                const box = t.parentElement;
                return box.clientWidth && t.offsetWidth > box.clientWidth + 1;
            }).map(t => [t.offsetWidth, t.parentElement.clientWidth])"""
        )
        if excess > 0 or clipped:
            findings.append((name, excess, clipped))
        for button in page.get_by_role("button", name="Remove", exact=True).all():
            box = button.bounding_box()
            if box is None or box["x"] + box["width"] > size["width"]:
                findings.append((name, "Remove off screen", box))
    assert not findings, findings
