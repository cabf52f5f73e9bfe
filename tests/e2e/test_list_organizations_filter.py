"""The users list's organization filter, written in Python
(`core.widgets.LongSelect`, issue 29): it looks and works as the other
filters do -- choosing an organization narrows the list, the choice stays
selected, and an organization's administrator sees the rows of their
organization with the actions their guards allow."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rbac.models import Organization
from tests.conftest import make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as
from tests.orgs.conftest import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def orgs(builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    acme = Organization.objects.create(slug="acme", name="Acme & Sons")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@acme.example", name="Ada Admin")
    join(ada, acme, "org-admin")
    join(make_user("alice@acme.example", name="Alice Acme"), acme, "member")
    both = make_user("bo@both.example", name="Bo Both")
    join(both, acme, "member")
    join(both, globex, "member")
    join(make_user("gil@globex.example", name="Gil Globex"), globex, "member")
    return acme


def test_the_organization_filter_narrows_the_list_and_keeps_its_choice(
    live_server, page, screenshot, orgs
):
    open_as(page, live_server.url, "admin@example.com", "/users/")
    select = page.locator("select#id_organization")
    assert select.get_attribute("class") == "form-select"
    assert select.locator("option").all_inner_texts() == [
        "Any organization",
        "Acme & Sons",
        "Globex",
    ]
    select.select_option("acme")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**organization=acme**")
    rows = page.locator(".users-table tbody tr")
    names = sorted(r.locator("a.fw-semibold").inner_text() for r in rows.all())
    assert names == ["Ada Admin", "Alice Acme", "Bo Both"]
    assert page.locator("select#id_organization").input_value() == "acme"
    a11y.check(page, "users list filtered by organization")
    screenshot(page, "users-list-organization-filter", phone=True)


def test_an_organization_administrator_sees_their_members_with_the_actions_allowed(
    live_server, page, screenshot, orgs
):
    open_as(page, live_server.url, "ada@acme.example", "/users/")
    rows = page.locator(".users-table tbody tr")
    names = sorted(r.locator("a.fw-semibold").inner_text() for r in rows.all())
    assert names == ["Ada Admin", "Alice Acme", "Bo Both"]
    page.get_by_role("button", name="Actions for alice@acme.example").click()
    items = page.locator(".dropdown-menu.show .dropdown-item").all_inner_texts()
    assert items[0] == "Open" and "Ban…" in items
    # Bo is also in Globex, where Ada holds nothing: no action offered.
    assert page.get_by_role("button", name="Actions for bo@both.example").count() == 0
    screenshot(page, "users-list-org-admin", phone=True)


def _search_pick_and_apply(page, apply: str, indicator: str) -> None:
    """The organization filter is a search field: "glo" suggests Globex
    alone; Globex typed and the filters applied. Asking for suggestions
    does not show the results' loading `indicator`: nothing in the
    results is loading."""
    page.evaluate(
        """(selector) => {
            const shown = document.querySelector(selector);
            window.resultsIndicated = false;
            new MutationObserver(() => {
                if (shown.classList.contains("htmx-request")) window.resultsIndicated = true;
            }).observe(shown, {attributes: true});
        }""",
        indicator,
    )
    field = page.get_by_label("Organization")
    assert field.get_attribute("type") == "search"
    field.fill("glo")
    options = page.locator("#id_organization_options option")
    # Focusing loads the first suggestions, then the text narrows them.
    expect(options).to_have_count(1)
    assert options.get_attribute("value") == "globex"
    assert page.evaluate("window.resultsIndicated") is False
    field.fill("globex")
    page.get_by_role("button", name=apply).click()
    page.wait_for_url("**organization=globex**")


def test_above_the_limit_the_organization_filter_is_a_search_field_with_suggestions(
    live_server, page, screenshot, orgs, monkeypatch
):
    from accounts.views import users as user_views

    monkeypatch.setattr(user_views, "ORGANIZATION_SELECT_LIMIT", 1)
    open_as(page, live_server.url, "admin@example.com", "/users/")
    assert page.locator("#id_organization_options option").count() == 0
    _search_pick_and_apply(page, "Apply", "#list-loading")
    rows = page.locator(".users-table tbody tr")
    names = sorted(r.locator("a.fw-semibold").inner_text() for r in rows.all())
    assert names == ["Bo Both", "Gil Globex"]
    assert page.get_by_label("Organization").input_value() == "globex"
    a11y.check(page, "users list, organization search field")
    screenshot(page, "users-list-organization-search", phone=True)


def test_above_the_limit_the_audit_logs_organization_filter_is_a_search_field(
    live_server, page, screenshot, orgs, monkeypatch
):
    from accounts.models import User
    from audit import services as audit
    from audit import views as audit_views

    monkeypatch.setattr(audit_views, "ORGANIZATION_SELECT_LIMIT", 1)
    globex = Organization.objects.get(slug="globex")
    owner = User.objects.get(email="owner@example.com")
    audit.record("rbac.organization.updated", actor=owner, target=globex, organization=globex,
                 reason="renamed in globex")  # fmt: skip
    audit.record("rbac.organization.updated", actor=owner, target=orgs, organization=orgs,
                 reason="renamed in acme")  # fmt: skip
    open_as(page, live_server.url, "admin@example.com", "/audit/")
    _search_pick_and_apply(page, "Apply filters", "#audit-loading")
    expect(page.get_by_text("renamed in globex").first).to_be_visible()
    assert page.get_by_text("renamed in acme").count() == 0
    assert page.get_by_label("Organization").input_value() == "globex"
    a11y.check(page, "audit log, organization search field")
    screenshot(page, "audit-organization-search", phone=True)
