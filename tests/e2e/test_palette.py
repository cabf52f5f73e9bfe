"""The command palette, saved views and the peek panel in Chromium (issue
27): keyboard only, through the same dialogs as the pages, audited; a view
shared by an administrator shows a one-organization colleague only their
organization; axe finds no serious violation in either theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from rbac.models import Organization
from tests.conftest import make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as
from tests.orgs.conftest import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def people(builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    admin = make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    grace = make_user("grace@example.com", roles=["viewer"], name="Grace Hopper")
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@acme.example", name="Ada Acme")
    join(ada, acme, "org-admin")
    alice = make_user("alice@acme.example", name="Alice Acme")
    join(alice, acme, "member")
    gil = make_user("gil@globex.example", name="Gil Globex")
    join(gil, globex, "member")
    join(grace, globex, "member")
    return {"admin": admin, "grace": grace, "ada": ada, "alice": alice, "gil": gil}


def _open_palette(page):
    page.keyboard.press("Control+k")
    page.locator("#jump-dialog").wait_for(state="visible")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'jump-q'")


def _active_text(page) -> str:
    return page.evaluate(
        "(() => { const id = document.getElementById('jump-q')"
        ".getAttribute('aria-activedescendant');"
        " return id ? document.getElementById(id).textContent.replace(/\\s+/g, ' ').trim()"
        " : ''; })()"
    )


def _arrow_to(page, text: str, limit: int = 20) -> None:
    """Press ArrowDown until the active option reads `text` (focus stays in
    the input: the combobox pattern)."""
    for _ in range(limit):
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.id") == "jump-q"
        if _active_text(page).startswith(text):
            return
    raise AssertionError(f"no option {text!r}; last: {_active_text(page)!r}")


def test_find_a_user_then_ban_them_through_the_page_dialog_keyboard_only(
    live_server, page, screenshot, people
):
    grace = people["grace"]
    open_as(page, live_server.url, "admin@example.com", "/audit/")
    _open_palette(page)
    page.keyboard.type("hopper")
    options = page.locator("#jump-listbox [role=option]")
    expect(options.first).to_contain_text("Grace Hopper")
    combobox = page.locator("#jump-q")
    expect(combobox).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#jump-listbox")).to_contain_text("Ban… on Grace Hopper")
    a11y.check(page, "palette with a user's actions")
    screenshot(page, "palette-user-actions", phone=True)
    _arrow_to(page, "Ban…")
    expect(page.locator("#jump-listbox [aria-selected=true]")).to_have_count(1)
    page.keyboard.press("Enter")
    # The user page, with its own Ban dialog open.
    page.wait_for_url(f"**/users/{grace.pk}/")
    dialog = page.locator("#modal-root .modal.show")
    dialog.wait_for()
    expect(dialog.get_by_role("heading", name="Ban user")).to_be_visible()
    assert "#action-" not in page.url  # a reload does not open it again
    page.wait_for_timeout(400)
    dialog.get_by_label("Reason").fill("Spam from the palette")
    page.keyboard.press("Tab")
    dialog.get_by_role("button", name="Ban").click()
    expect(page.locator("#messages")).to_contain_text("grace@example.com is banned.")
    event = AuditEvent.objects.get(action="accounts.user.banned", outcome="success")
    assert event.actor_id == people["admin"].pk and event.target_id == str(grace.pk)
    assert event.changes["ban_reason"] == [None, "Spam from the palette"] or (
        "Spam from the palette" in str(event.changes)
    )
    expect(page.locator("#user-header")).to_contain_text("Banned")


def test_jump_to_a_page_and_close_with_escape(live_server, page, screenshot, people):
    open_as(page, live_server.url, "admin@example.com", "/users/")
    before = page.url
    _open_palette(page)
    page.keyboard.type("audit")
    expect(page.locator("#jump-listbox [role=option]").first).to_have_text("Audit log")
    page.keyboard.press("Escape")
    page.locator("#jump-dialog").wait_for(state="hidden")
    assert page.url == before
    _open_palette(page)
    page.locator("#jump-q").fill("audit")
    expect(page.locator("#jump-listbox [role=option]").first).to_have_text("Audit log")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url("**/audit/")
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()


def test_a_client_without_permissions_jumps_only_to_their_pages(
    live_server, page, screenshot, people
):
    open_as(page, live_server.url, "alice@acme.example", "/")
    assert page.locator(".sidebar-views").count() == 0  # no list to save a view of
    _open_palette(page)
    listbox = page.locator("#jump-listbox")
    expect(listbox).to_contain_text("My account")
    a11y.check(page, "palette for a client")
    screenshot(page, "palette-client", phone=True)
    assert "Users" not in [t.strip() for t in listbox.locator("[role=option]").all_inner_texts()]
    page.locator("#jump-q").fill("audit")
    expect(page.locator("#jump-results")).to_contain_text("Nothing matches “audit”")


def test_save_a_view_find_it_in_the_sidebar_and_the_palette_and_share_it_safely(
    live_server, page, browser, screenshot, people
):
    open_as(page, live_server.url, "admin@example.com", "/users/?q=example&sort=-created")
    page.get_by_role("link", name="Save view…").click()
    dialog = page.locator("#modal-root .modal.show")
    dialog.wait_for()
    page.wait_for_timeout(400)
    dialog.get_by_label("Name").fill("Example people")
    dialog.get_by_label("Share with the team").check()
    a11y.check(page, "save view dialog")
    screenshot(page, "saved-view-dialog", phone=True)
    dialog.get_by_role("button", name="Save view").click()
    page.wait_for_url("**/users/?q=example&sort=-created")
    expect(page.locator("#messages")).to_contain_text("Saved the view “Example people”.")
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_role("link", name="Example people")).to_be_visible()
    # Found in the palette from another page, and opened with Enter.
    page.goto(f"{live_server.url}/audit/")
    _open_palette(page)
    page.keyboard.type("example peo")
    expect(page.locator("#jump-listbox")).to_contain_text("Example people")
    _arrow_to(page, "Example people")
    page.keyboard.press("Enter")
    page.wait_for_url("**/users/?q=example&sort=-created")
    admin_rows = page.locator(".users-table tbody tr").count()
    assert admin_rows >= 4  # the owner, the admin, Grace, Gil, ...

    # Ada administers Acme only: the shared view shows her Acme's people.
    context = browser.new_context(viewport=DESKTOP)
    other = context.new_page()
    try:
        open_as(other, live_server.url, "ada@acme.example", "/")
        link = other.locator("#sidebar").get_by_role("link", name="Example people")
        link.click()
        other.wait_for_url("**/users/?q=example&sort=-created")
        rows = other.locator(".users-table tbody")
        expect(rows).to_contain_text("alice@acme.example")
        text = rows.inner_text()
        for outside in ("gil@globex.example", "grace@example.com", "owner@example.com"):
            assert outside not in text
        screenshot(other, "saved-view-opened-by-colleague")
    finally:
        context.close()


def test_saved_views_page_rename_and_delete(live_server, page, screenshot, people):
    from accounts.services.saved_views import saved_view_create

    saved_view_create(actor=people["admin"], page="audit", name="Denied", query="outcome=denied")
    open_as(page, live_server.url, "admin@example.com", "/views/")
    page.get_by_role("link", name="Rename or share Denied").click()
    page.get_by_label("Name").fill("Refusals")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text("View saved.")
    expect(page.get_by_role("link", name="Refusals", exact=True).first).to_be_visible()
    a11y.check(page, "saved views page")
    screenshot(page, "saved-views-page", phone=True)
    page.get_by_role("link", name="Delete Refusals").click()
    expect(page.get_by_role("heading", name="Delete saved view")).to_be_visible()
    page.get_by_role("button", name="Delete view").click()
    expect(page.locator("#messages")).to_contain_text("Deleted the view “Refusals”.")
    expect(page.get_by_text("You have no saved views.")).to_be_visible()
    assert AuditEvent.objects.filter(action="accounts.saved_view.deleted").count() == 1


def test_peek_at_a_user_from_the_list_and_close_it_with_escape(
    live_server, page, screenshot, people
):
    open_as(page, live_server.url, "admin@example.com", "/users/?q=hopper")
    before = page.url
    peek = page.get_by_role("button", name="Peek at Grace Hopper")
    peek.click()
    panel = page.locator("#modal-root .modal-peek.show")
    panel.wait_for()
    expect(panel.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(panel).to_contain_text("Globex")
    expect(panel.get_by_role("link", name="Open the user page")).to_be_visible()
    a11y.check(page, "peek panel")
    screenshot(page, "peek-panel", phone=True)
    page.keyboard.press("Escape")
    page.locator("#modal-root .modal").wait_for(state="detached")
    assert page.url == before
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Peek at Grace Hopper"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violation_in_either_theme(
    live_server, page, screenshot, people, scheme
):
    from accounts.services.saved_views import saved_view_create

    saved_view_create(actor=people["admin"], page="users", name="Everyone", query="sort=name")
    page.emulate_media(color_scheme=scheme)
    open_as(page, live_server.url, "admin@example.com", "/users/")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#sidebar").get_by_role("link", name="Everyone")).to_be_attached()
    a11y.check(page, f"users list with saved views ({scheme})")
    screenshot(page, f"palette-sidebar-{scheme}", phone=True)
    _open_palette(page)
    page.keyboard.type("gr")
    expect(page.locator("#jump-listbox")).to_contain_text("Grace Hopper")
    page.keyboard.press("ArrowDown")
    a11y.check(page, f"palette ({scheme})")
    screenshot(page, f"palette-{scheme}")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    screenshot(page, f"palette-{scheme}-phone")
    page.set_viewport_size(DESKTOP)
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/users/?q=hopper")
    page.get_by_role("button", name="Peek at Grace Hopper").click()
    page.locator("#modal-root .modal-peek.show").wait_for()
    a11y.check(page, f"peek panel ({scheme})")
    screenshot(page, f"peek-panel-{scheme}", phone=True)
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/views/")
    a11y.check(page, f"saved views page ({scheme})")
    screenshot(page, f"saved-views-page-{scheme}", phone=True)
    page.goto(f"{live_server.url}/")
    # The bars are links: their SVG labels carry no underline (a faint dark
    # line under each label in dark mode before).
    decoration = page.evaluate(
        "getComputedStyle(document.querySelector('a.chart-row text.chart-label'))"
        ".textDecorationLine"
    )
    assert decoration == "none"
    a11y.check(page, f"overview ({scheme})")
    screenshot(page, f"overview-bars-{scheme}")
