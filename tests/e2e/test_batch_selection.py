"""Issue 27, first defect: "Select all N matching" under a role filter,
then Assign role and Remove role. The preview and the result cover exactly
the N users the filter selected (before the fix, the role being assigned
replaced the list's role filter, so other people were changed)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user, make_users
from tests.e2e import a11y
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EDITORS = 30  # more than one page of the list (25 a page)


@pytest.fixture
def team(builtin_roles):
    from rbac.models import Role, UserRole

    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    editor, viewer = Role.objects.get(slug="editor"), Role.objects.get(slug="viewer")
    editors = make_users(EDITORS, prefix="editor")
    viewers = make_users(8, prefix="viewer")
    make_users(5, prefix="plain")
    UserRole.objects.bulk_create(
        [UserRole(user=u, role=editor) for u in editors]
        + [UserRole(user=u, role=viewer) for u in viewers]
    )
    return {u.email for u in editors}, {u.email for u in viewers}


def _holders(slug: str) -> set[str]:
    from rbac.models import UserRole

    return set(UserRole.objects.filter(role__slug=slug).values_list("user__email", flat=True))


def _batch_on_all_matching(page, action: str, role: str, label: str) -> None:
    page.locator("input[name=ids]").first.check()  # the bar appears
    page.locator("#all-matching").check()
    assert f"All {EDITORS} users selected" in page.locator("[data-batch-bar]").inner_text()
    page.get_by_label("Batch action").select_option(action)
    page.locator("#batch-role").select_option(role)
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector(f"h1:has-text('{label}: preview')")


def _listed(page) -> set[str]:
    """The users a preview or a result lists (a result folds its processed
    users away under "Show the N processed users")."""
    rows = page.locator(".batch-items tbody tr td:first-child").all_text_contents()
    return set(rows) | set(page.locator(".batch-processed li").all_text_contents())


def test_select_all_matching_a_role_filter_then_assign_and_remove_a_role(
    live_server, page, screenshot, team
):
    editors, viewers = team
    open_as(page, live_server.url, "admin@example.com", "/users/?role=editor")
    assert page.locator("#match-count").inner_text().startswith(f"{EDITORS} users")

    _batch_on_all_matching(page, "assign_role", "viewer", "Assign role")
    assert _listed(page) == editors
    a11y.check(page, "batch preview")
    screenshot(page, "batch-assign-role-preview", phone=True)
    page.get_by_role("button", name=f"Assign role {EDITORS} users").click()
    page.wait_for_selector("h1:has-text('Assign role: result')")
    assert _listed(page) == editors
    assert _holders("viewer") == editors | viewers
    assert _holders("editor") == editors

    page.goto(f"{live_server.url}/users/?role=editor")
    _batch_on_all_matching(page, "remove_role", "viewer", "Remove role")
    assert _listed(page) == editors
    page.get_by_role("button", name=f"Remove role {EDITORS} users").click()
    page.wait_for_selector("h1:has-text('Remove role: result')")
    assert _listed(page) == editors
    screenshot(page, "batch-remove-role-result", phone=True)
    assert _holders("viewer") == viewers  # the people nobody selected keep theirs
    assert _holders("editor") == editors


def test_a_long_preview_pages_its_rows_and_narrows_to_the_skipped(
    live_server, page, screenshot, builtin_roles
):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    make_users(58, prefix="many")
    open_as(page, live_server.url, "admin@example.com", "/users/")
    page.locator("input[name=ids]").first.check()
    page.locator("#all-matching").check()
    page.get_by_label("Batch action").select_option("disable")
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector("h1:has-text('Disable: preview')")
    rows = page.locator(".batch-items tbody tr")
    assert rows.count() == 50
    assert "1–50 of 60" in page.locator(".batch-items-pager").inner_text()
    page.get_by_role("button", name="Next →").click()
    page.wait_for_selector("text=51–60 of 60")
    assert rows.count() == 10
    page.get_by_label("Show").select_option("problems")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Show")).to_have_value("problems")
    expect(page.get_by_text("The owner cannot be disabled.")).to_be_visible()
    expect(page.get_by_role("button", name="Disable 58 users")).to_be_visible()
    a11y.check(page, "batch preview, only the skipped")
    screenshot(page, "batch-preview-only-skipped", phone=True)
