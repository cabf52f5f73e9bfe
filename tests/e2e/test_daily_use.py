"""Issue 27's journey: the defects a new administrator and a client met in
Chromium, replayed -- where a client lands, where Next leaves you and what
the bar says, the Activity card after a role change, a console free of
content-security-policy refusals."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user, make_users
from tests.e2e import a11y
from tests.e2e.helpers import open_as, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(builtin_roles):
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    admin = make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    client = make_user("cleo@example.com", name="Cleo Client")
    make_users(60, prefix="crowd")
    return owner, admin, client


def _csp_refusals(page) -> list[str]:
    """Every content-security-policy refusal the page's console shows from
    now on. Chromium reports them as log entries of its own (not through
    the console API that Playwright's "console" event follows), so they
    are read through the DevTools protocol's Log domain as well."""
    refusals: list[str] = []

    def note(text: str) -> None:
        if "Content Security Policy" in text:
            refusals.append(text)

    page.on("console", lambda m: note(m.text))
    cdp = page.context.new_cdp_session(page)
    cdp.on("Log.entryAdded", lambda e: note(e["entry"].get("text", "")))
    cdp.send("Log.enable")
    return refusals


def test_a_client_without_permissions_lands_on_a_welcome_page(
    live_server, page, screenshot, people
):
    sign_in(page, live_server.url, "cleo@example.com")
    page.wait_for_url(f"{live_server.url}/")
    heading = page.locator("h1").inner_text()
    assert heading == "Welcome, Cleo Client"
    assert "Your users at a glance" not in page.content()
    # It says what they can do, each with its way there.
    for link in ("Change your password", "Set up two-factor authentication", "Your sessions"):
        expect(page.get_by_role("link", name=link)).to_be_visible()
    a11y.check(page, "welcome page")
    screenshot(page, "welcome-client", phone=True)


def test_next_page_starts_at_the_top_of_the_list_and_says_where_you_are(
    live_server, page, screenshot, people
):
    open_as(page, live_server.url, "admin@example.com", "/users/")
    bar = page.locator("nav[aria-label=Pagination]")
    assert "1–25 of 63" in bar.inner_text()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**cursor=**")
    expect(bar).to_contain_text("26–50 of 63")
    page.wait_for_timeout(300)  # htmx's settle and scroll
    top = page.evaluate("document.getElementById('user-results').getBoundingClientRect().top")
    assert -1 <= top <= 200, f"the list starts {top}px from the window's top"
    a11y.check(page, "users list, page 2")
    screenshot(page, "users-list-page-2", phone=True)
    # Page numbers: straight to the last page, then back to the first.
    bar.get_by_role("link", name="Page 3").click()
    expect(bar).to_contain_text("51–63 of 63")
    assert page.locator(".users-table tbody tr").count() == 13
    bar.get_by_role("link", name="Page 1").click()
    expect(bar).to_contain_text("1–25 of 63")


def test_assigning_a_role_on_a_user_page_refreshes_the_activity_card(live_server, page, people):
    _, _, client = people
    open_as(page, live_server.url, "admin@example.com", f"/users/{client.pk}/")
    activity = page.locator("#section-activity")
    page.wait_for_selector("#section-activity .audit-trail")
    before = activity.text_content()
    page.get_by_label("Assign a role").select_option("viewer")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_selector("text=now has the role Viewer")
    expect(activity).not_to_have_text(before, timeout=5000)


def test_the_console_is_free_of_csp_refusals_on_the_users_list_and_the_role_form(
    live_server, page, people
):
    _, _, client = people
    refusals = _csp_refusals(page)
    page.on("dialog", lambda d: d.accept())
    open_as(page, live_server.url, "admin@example.com", "/users/")
    # The "Find a user" dialog opened and closed (Bootstrap leaves a style
    # attribute behind), then the list swapped by searching and paging.
    page.keyboard.press("Control+k")
    page.wait_for_selector("#jump-dialog.show")
    page.keyboard.press("Escape")
    page.wait_for_selector("#jump-dialog", state="hidden")
    # A script styles an element through the CSSOM, as Bootstrap does for
    # dialogs and collapses (allowed); htmx's settle must not copy that
    # style back as an attribute when the element is swapped.
    page.evaluate("document.getElementById('match-count').style.opacity = '0.99'")
    page.get_by_label("Search").fill("crowd1")
    page.wait_for_url("**q=crowd1**")
    page.evaluate("document.getElementById('batch-form').style.opacity = '0.99'")
    page.get_by_label("Search").fill("")
    expect(page.locator(".users-table tbody tr")).to_have_count(25)
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**cursor=**")
    page.locator("input[name=ids]").first.check()
    page.go_back()  # htmx restores the history entry
    page.wait_for_timeout(500)
    # At phone width, the filters open in a collapse.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/users/")
    page.get_by_role("button", name="Filters").click()
    page.wait_for_timeout(500)
    page.locator("#id_status").select_option("active")
    page.wait_for_url("**status=active**")
    page.set_viewport_size({"width": 1280, "height": 900})
    # The role form on the user page: assign, then remove.
    page.goto(f"{live_server.url}/users/{client.pk}/")
    page.get_by_label("Assign a role").select_option("viewer")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_selector("text=now has the role Viewer")
    page.get_by_role("button", name="Remove role Viewer").click()
    page.wait_for_selector("text=Removed the role Viewer")
    # The role form: start from each template in turn (htmx swaps the form).
    page.goto(f"{live_server.url}/roles/new/")
    templates = page.locator("[aria-label='Permission templates'] a")
    for i in range(templates.count()):
        templates.nth(i).click()
        page.wait_for_timeout(300)
    page.get_by_role("button", name="Preview").or_(
        page.get_by_role("button", name="Create role")
    ).first.click()
    page.wait_for_timeout(500)
    assert refusals == []


def test_the_password_field_shows_only_while_setting_a_password_now(live_server, page, people):
    open_as(page, live_server.url, "admin@example.com", "/users/new/")
    password = page.locator("#id_password")
    assert page.get_by_label("Send an invitation (they choose a password)").is_checked()
    expect(password).to_be_hidden()
    page.get_by_label("Set a password now").check()
    expect(password).to_be_visible()
    assert page.get_by_text("Password (optional)").count() == 0
    page.get_by_label("Send an invitation (they choose a password)").check()
    expect(password).to_be_hidden()


# Each text node of an .address is one part ("alexandra", "@example", ".com",
# split by <wbr>): a line that changes inside a part, other than after a
# hyphen (where text breaks anyway), is a break mid-word.
_MID_WORD_BREAKS = """() => {
  const broken = [];
  document.querySelectorAll('.address').forEach(el => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent;
      let top = null;
      for (let i = 0; i < text.length; i++) {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect) continue;
        if (top !== null && Math.abs(rect.top - top) > 2 && text[i - 1] !== '-') {
          broken.push(text.slice(0, i) + '|' + text.slice(i));
        }
        top = rect.top;
      }
    }
  });
  return broken;
}"""


def test_addresses_wrap_at_390_px_between_their_parts_not_mid_word(
    live_server, page, screenshot, people
):
    long_one = "alexandra.konstantinopoulou@research.example-university.org"
    make_user(long_one, name="Alexandra Konstantinopoulou")
    make_user("bartholomew.featherstonehaugh@example-university.org")
    open_as(page, live_server.url, "admin@example.com", "/users/?q=university", size=(390, 844))
    expect(page.locator(".users-table tbody tr")).to_have_count(2)
    assert page.evaluate(_MID_WORD_BREAKS) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Select all on this page").check()
    page.get_by_label("Batch action").select_option("disable")
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector("h1:has-text('Disable: preview')")
    assert page.evaluate(_MID_WORD_BREAKS) == []
    screenshot(page, "batch-preview-addresses-390")
