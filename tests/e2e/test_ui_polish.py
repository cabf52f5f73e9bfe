"""Issue 16: the dashboard as a new administrator sees it, at 1280 and
390 px -- fresh figures, the users list, no sideways scrolling, plain words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import open_as, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [(1280, 900), (390, 844)]


@pytest.fixture
def people(builtin_roles):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import UserSession
    from audit import services as audit

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    admin = make_user("admin@example.com", roles=["admin"], name="Ada Admin")
    now = timezone.now()
    grace = make_user("grace@example.com", roles=["editor"], name="Grace Hopper", last_login=now)
    bob = make_user(
        "bob@example.com",
        roles=["viewer"],
        name="Bob Banned",
        banned_until=now + timedelta(days=3),
        ban_reason="Spam",
    )
    make_user("carol@example.com", name="Carol Unverified", email_verified_at=None)
    UserSession.objects.create(
        session_key="k" * 40,
        user=grace,
        ip="2001:db8:85a3::8a2e:370:7334",
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    )
    audit.record("accounts.user.banned", actor=admin, target=bob, reason="Spam")
    return owner, admin, grace, bob


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def each_size(page, screenshot, name, check=None):
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        screenshot(page, f"{name}-{width}")
        if check:
            check(width)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_before_screenshots(live_server, page, screenshot, people):
    _, _, grace, _ = people
    sign_in(page, live_server.url, "admin@example.com")
    for name, url in [
        ("users-list", "/users/"),
        ("user-page", f"/users/{grace.pk}/"),
        ("audit-log", "/audit/"),
    ]:
        page.goto(live_server.url + url)
        each_size(page, screenshot, f"before/{name}")


# --- 1. fresh figures -------------------------------------------------------------


def test_overview_counts_a_created_user_at_once(live_server, page, screenshot, people):
    from django.core.cache import cache

    cache.clear()
    open_as(page, live_server.url, "admin@example.com", "/")
    all_users = page.locator(".stat-label", has_text="All users").locator("xpath=..")
    before = int(all_users.locator(".stat-value").inner_text())
    page.goto(f"{live_server.url}/users/new/")
    page.get_by_label("Email", exact=True).fill("fresh@example.com")
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector(".alert-success")
    page.goto(f"{live_server.url}/")
    assert int(all_users.locator(".stat-value").inner_text()) == before + 1

    def check(width):
        assert no_sideways_scroll(page), width

    each_size(page, screenshot, "overview", check)


def test_audit_action_filter_offers_a_just_recorded_event(live_server, page, people):
    from django.core.cache import cache

    cache.clear()
    open_as(page, live_server.url, "admin@example.com", "/audit/")
    assert page.locator("#id_action option[value='accounts.user.disabled']").count() == 0
    _, _, grace, _ = people
    page.goto(f"{live_server.url}/users/{grace.pk}/")
    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.get_by_label("Reason").fill("Left")
    page.locator(".modal.show").get_by_role("button", name="Disable").click()
    page.wait_for_selector(".alert-success")
    page.goto(f"{live_server.url}/audit/")
    assert page.locator("#id_action option[value='accounts.user.disabled']").count() == 1


# --- 2. users list basics, 11. skip to results ------------------------------------


def test_users_list_counts_sorts_and_shows_the_batch_bar_when_rows_are_ticked(
    live_server, page, screenshot, people
):
    open_as(page, live_server.url, "admin@example.com", "/users/")
    assert page.locator("#match-count").inner_text() == "5 users"
    # The batch bar waits for a ticked row.
    expect(page.locator("[data-batch-bar]")).to_be_hidden()
    boxes = page.locator("input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    boxes.nth(2).check()
    bar = page.locator("[data-batch-bar]")
    expect(bar).to_be_visible()
    assert "3 selected" in bar.inner_text()
    expect(page.locator("#batch-role")).to_be_hidden()
    page.locator("#batch-action").select_option("assign_role")
    expect(page.locator("#batch-role")).to_be_visible()
    page.locator("#batch-action").select_option("disable")
    expect(page.locator("#batch-role")).to_be_hidden()
    page.locator("#all-matching").check()
    assert "All 5 users selected" in bar.inner_text()
    page.locator("#all-matching").uncheck()
    assert "3 selected" in bar.inner_text()
    each_size(page, screenshot, "users-list-selected", lambda w: no_sideways_scroll(page))

    # Sorting by clicking a header, with aria-sort.
    page.goto(f"{live_server.url}/users/")
    name_header = page.locator("th", has=page.locator("a.sort-link", has_text="Name"))
    assert name_header.get_attribute("aria-sort") is None
    page.locator("a.sort-link", has_text="Name").click()
    page.wait_for_url("**sort=name**")
    page.wait_for_function(
        "document.querySelector('th[aria-sort]')?.getAttribute('aria-sort') === 'ascending'"
    )
    names = page.locator(".users-table tbody td.user-cell a").all_inner_texts()
    assert names == sorted(names)
    page.locator("a.sort-link", has_text="Name").click()
    page.wait_for_url("**sort=-name**")
    page.wait_for_function(
        "document.querySelector('th[aria-sort]')?.getAttribute('aria-sort') === 'descending'"
    )
    names = page.locator(".users-table tbody td.user-cell a").all_inner_texts()
    assert names == sorted(names, reverse=True)
    # The Sort select in the filters follows the header.
    assert page.locator("#id_sort").input_value() == "-name"

    # A filter narrows the count.
    page.get_by_label("Search").fill("grace")
    page.wait_for_url("**q=grace**")
    page.wait_for_function("document.querySelector('#match-count').innerText.startsWith('1 user')")

    def check(width):
        assert no_sideways_scroll(page), width

    page.goto(f"{live_server.url}/users/")
    each_size(page, screenshot, "users-list", check)


def test_users_list_filters_collapse_on_phones(live_server, page, screenshot, people):
    open_as(page, live_server.url, "admin@example.com", "/users/", size=(390, 844))
    expect(page.get_by_label("Search")).to_be_visible()
    expect(page.get_by_label("Status")).to_be_hidden()
    first_row = page.locator(".users-table tbody tr").first
    box = first_row.bounding_box()
    assert box["y"] + box["height"] <= 844, box
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Filters").click()
    page.wait_for_timeout(400)
    expect(page.get_by_label("Status")).to_be_visible()
    screenshot(page, "users-list-filters-open-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/users/")
    expect(page.get_by_label("Status")).to_be_visible()


@pytest.mark.parametrize("width,height", SIZES)
def test_skip_to_results_reaches_the_first_user_checkbox_quickly(
    live_server, page, people, width, height
):
    open_as(page, live_server.url, "admin@example.com", "/users/", size=(width, height))
    page.locator("#main").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to results"
    page.keyboard.press("Enter")
    first_box = page.locator("input[name=ids]").first
    for presses in range(1, 10):
        page.keyboard.press("Tab")
        if first_box.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the first user checkbox is more than 9 tabs after the skip link")
    assert presses <= 7


# --- 3. no page scrolls sideways, 12. phones ------------------------------------------


def test_no_page_scrolls_sideways_at_1280_or_390(live_server, page, screenshot, people):
    from accounts.services.invitations import invitation_create

    owner, admin, grace, bob = people
    invitation_create(
        actor=owner,
        email="a-rather-long-address.for-testing@subdomain.example.com",
        roles=["viewer"],
    )
    sign_in(page, live_server.url, "admin@example.com")
    pages = {
        "overview": "/",
        "users-list": "/users/",
        "user-page": f"/users/{grace.pk}/",
        "user-page-banned": f"/users/{bob.pk}/",
        "audit-log": "/audit/",
        "invitations": "/invitations/",
        "roles": "/roles/",
        "api-keys": "/api-keys/",
        "emails": "/emails/",
        "account": "/account/",
        "user-create": "/users/new/",
        "user-edit": f"/users/{grace.pk}/edit/",
        "role-detail": "/roles/admin/",
        "role-create": "/roles/new/",
        "audit-event": "/audit/{event}/",
        "api-key-create": "/api-keys/new/",
        "account-password": "/account/password/",
    }
    from audit.models import AuditEvent

    pages["audit-event"] = pages["audit-event"].format(
        event=AuditEvent.objects.filter(action="accounts.user.banned").first().pk
    )
    wide = []
    for name, url in pages.items():
        page.goto(live_server.url + url)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(50)
            screenshot(page, f"{name}-{width}")
            excess = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if excess > 0:
                wide.append((name, width, excess))
            # No table is wider than the card (or box) holding it.
            clipped = page.evaluate(
                """() => [...document.querySelectorAll('table')].filter(t => {
                    const box = t.parentElement;
                    return box.clientWidth && t.offsetWidth > box.clientWidth + 1;
                }).map(t => [t.className, t.offsetWidth, t.parentElement.clientWidth])"""
            )
            if clipped:
                wide.append((name, width, clipped))
        page.set_viewport_size({"width": 1280, "height": 900})
    assert not wide, wide


# --- 4. tell people what happened --------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_a_client_banned_while_signed_in_is_told_they_were_signed_out(
    live_server, browser, page, screenshot, people, width, height
):
    from accounts.models import User
    from accounts.services.users import user_ban

    owner, admin, grace, bob = people
    page.set_viewport_size({"width": width, "height": height})
    open_as(page, live_server.url, "grace@example.com", "/account/")
    expect(page.get_by_role("heading", name="My account").first).to_be_visible()

    user_ban(actor=User.objects.get(pk=admin.pk), user=User.objects.get(pk=grace.pk), reason="Spam")
    page.goto(f"{live_server.url}/account/")
    assert "/login/" in page.url
    alert = page.locator("#messages .alert")
    assert alert.inner_text().strip() == "You were signed out. Sign in again to continue."
    body = page.locator("body").inner_text().lower()
    assert "ban" not in body and "spam" not in body
    assert no_sideways_scroll(page)
    screenshot(page, f"signed-out-{width}")
    # Only once: the next visit to the sign-in page is plain.
    page.goto(f"{live_server.url}/login/")
    assert page.locator("#messages .alert").count() == 0


def test_a_visitor_with_no_session_sees_no_signed_out_message(live_server, page, people):
    page.goto(f"{live_server.url}/users/")
    assert "/login/" in page.url
    assert page.locator("#messages .alert").count() == 0


# --- 5. plain words ------------------------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_activity_reads_as_sentences_and_times_as_people_say_them(
    live_server, page, screenshot, people, width, height
):
    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", "/", size=(width, height))
    activity = page.locator("section[aria-labelledby=activity-heading]")
    expect(activity.get_by_text("Ada Admin banned Bob Banned: Spam")).to_be_visible()
    expect(activity.get_by_text("Ada Admin signed in")).to_be_visible()
    assert "accounts.user.banned" not in activity.inner_text()
    assert "0 minutes" not in page.locator("body").inner_text()
    assert no_sideways_scroll(page)
    screenshot(page, f"overview-activity-{width}")

    page.goto(f"{live_server.url}/audit/")
    table = page.locator(".audit-table")
    expect(table.get_by_text("Ada Admin banned Bob Banned: Spam")).to_be_visible()
    assert "accounts.user.banned" not in table.inner_text()
    # The dotted code stays in the filter and on the event's own page.
    assert page.locator("#id_action option[value='accounts.user.banned']").count() == 1
    assert no_sideways_scroll(page)
    screenshot(page, f"audit-log-{width}")
    table.get_by_role("link", name="Ada Admin").first.click()
    page.wait_for_url("**actor=**")
    page.goto(f"{live_server.url}/audit/")
    page.locator(".audit-time a").last.click()
    expect(page.get_by_text("accounts.user.banned").first).to_be_visible()

    page.goto(f"{live_server.url}/users/")
    if width >= 768:
        row = page.locator("tr", has_text="Grace Hopper")
        assert "just now" in row.inner_text()
    assert "0 minutes" not in page.locator("body").inner_text()


# --- 6. user page header, 9. focus returns to the opener -----------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_user_page_header_keeps_everyday_actions_in_view_and_deletion_in_more(
    live_server, page, screenshot, people, width, height
):
    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", f"/users/{grace.pk}/", size=(width, height))
    header = page.locator("#user-header .user-actions")
    visible = [
        t.strip()
        for t in header.locator(":scope > a, :scope > .dropdown > button").all_inner_texts()
    ]
    assert visible == ["Edit profile", "Ban", "Disable", "More"]
    # The row of buttons stays on one line, even on a phone.
    tops = header.locator(":scope > a, :scope > .dropdown").evaluate_all(
        "els => new Set(els.map(e => Math.round(e.getBoundingClientRect().top))).size"
    )
    assert tops == 1
    expect(header.get_by_role("link", name="Delete permanently…")).to_be_hidden()
    header.get_by_role("button", name="More").click()
    menu = header.locator(".dropdown-menu")
    expect(menu.get_by_role("link", name="Delete…", exact=True)).to_be_visible()
    expect(menu.get_by_role("link", name="Delete permanently…")).to_be_visible()
    assert "Danger zone" in menu.inner_text()
    assert no_sideways_scroll(page)
    screenshot(page, f"user-page-more-{width}")

    # A banned user: Unban and Change ban, no Ban.
    page.goto(f"{live_server.url}/users/{bob.pk}/")
    texts = [t.strip() for t in header.locator(":scope > a").all_inner_texts()]
    assert "Unban" in texts and "Change ban" in texts and "Ban" not in texts
    screenshot(page, f"user-page-banned-{width}")


def test_closing_a_dialog_returns_focus_to_the_button_that_opened_it(live_server, page, people):
    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", f"/users/{grace.pk}/")
    opener = page.locator("#user-header").get_by_role("link", name="Disable")
    opener.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)
    page.keyboard.press("Escape")
    page.wait_for_selector("#modal-root .modal", state="detached")
    assert opener.evaluate("el => el === document.activeElement")

    # From the More menu: focus goes back to the menu's toggle.
    page.locator("#user-more").click()
    page.get_by_role("link", name="Delete…", exact=True).click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)
    page.locator(".modal.show").get_by_role("link", name="Cancel").click()
    page.wait_for_selector("#modal-root .modal", state="detached")
    assert page.evaluate("document.activeElement.id") == "user-more"


# --- 7. ban dialog -----------------------------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_ban_dialog_shows_only_the_field_for_the_chosen_duration(
    live_server, page, screenshot, people, width, height
):
    from accounts.models import User

    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", f"/users/{grace.pk}/", size=(width, height))
    page.locator("#user-header").get_by_role("link", name="Ban", exact=True).click()
    dialog = page.locator(".modal.show")
    dialog.wait_for()
    page.wait_for_timeout(400)
    expect(dialog.locator("#id_amount")).to_be_hidden()
    expect(dialog.locator("#id_until")).to_be_hidden()
    dialog.get_by_label("Duration").select_option("days")
    expect(dialog.get_by_label("Number of days")).to_be_visible()
    expect(dialog.locator("#id_until")).to_be_hidden()
    screenshot(page, f"ban-dialog-days-{width}")
    dialog.get_by_label("Duration").select_option("until")
    expect(dialog.get_by_label("Banned until")).to_be_visible()
    expect(dialog.locator("#id_amount")).to_be_hidden()
    dialog.get_by_label("Duration").select_option("hours")
    dialog.get_by_label("Number of hours").fill("2")
    dialog.get_by_label("Reason").fill("Cooling off")
    dialog.get_by_role("button", name="Ban").click()
    page.wait_for_selector(".alert-success")
    grace = User.objects.get(pk=grace.pk)
    assert grace.banned_until is not None and not grace.is_banned_permanently


# --- 8. roles from a template --------------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_a_role_made_from_a_template_takes_its_slug_from_its_own_name(
    live_server, page, screenshot, people, width, height
):
    from rbac.models import Role

    sign_in(page, live_server.url, "owner@example.com")
    page.set_viewport_size({"width": width, "height": height})
    for expected in ("support-desk", "support-desk-2"):
        page.goto(f"{live_server.url}/roles/new/?template=operator")
        page.get_by_label("Name", exact=True).fill("Support desk")
        assert page.locator("#id_slug").get_attribute("placeholder") == "support-desk"
        assert page.locator("#id_slug").input_value() == ""
        if expected == "support-desk":
            assert no_sideways_scroll(page)
            screenshot(page, f"role-from-template-{width}")
        page.get_by_role("button", name="Preview changes").click()
        page.get_by_role("button", name="Create role").click()
        page.wait_for_url(f"**/roles/{expected}/")
        expect(page.get_by_text("Role Support desk created.")).to_be_visible()
    assert Role.objects.filter(name="Support desk").count() == 2
    assert not Role.objects.filter(slug="operator").exists()


# --- 9. field contrast ------------------------------------------------------------------

CONTRAST_JS = """
(el) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((m, n) => n - m);
    return (x + 0.05) / (y + 0.05);
  };
  const behind = (node) => {
    for (let n = node.parentElement; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (bg && !bg.startsWith("rgba(0, 0, 0, 0)") && bg !== "transparent") return rgb(bg);
    }
    return [255, 255, 255];
  };
  const style = getComputedStyle(el);
  const border = rgb(style.borderTopColor);
  const own = rgb(style.backgroundColor);
  return {
    background: style.backgroundColor,
    vsField: ratio(border, own),
    vsPage: ratio(border, behind(el)),
  };
}
"""


@pytest.mark.parametrize("width,height", SIZES)
def test_fields_and_checkboxes_are_white_with_borders_of_at_least_3_to_1(
    live_server, page, screenshot, people, width, height
):
    open_as(page, live_server.url, "admin@example.com", "/users/", size=(width, height))
    if width < 768:
        page.get_by_role("button", name="Filters").click()
        page.wait_for_timeout(400)
    for selector in ("#id_q", "#id_status", "input[name=ids]"):
        found = page.locator(selector).first.evaluate(CONTRAST_JS)
        assert found["background"] == "rgb(255, 255, 255)", (selector, found)
        assert found["vsField"] >= 3 and found["vsPage"] >= 3, (selector, found)
    screenshot(page, f"fields-contrast-{width}")


# --- 10. Django admin and the favicon ---------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_django_admin_wears_the_product_colours_and_links_back(
    live_server, page, screenshot, people, width, height
):
    open_as(page, live_server.url, "admin@example.com", "/admin/", size=(width, height))
    assert page.locator("#header").evaluate("el => getComputedStyle(el).backgroundColor") == (
        "rgb(30, 36, 51)"
    )
    assert page.locator("#site-name").inner_text().replace("\n", " ").startswith("H Handover")
    expect(page.get_by_role("link", name="API keys").first).to_be_visible()
    screenshot(page, f"django-admin-{width}")
    page.get_by_role("link", name="← Back to the dashboard").click()
    page.wait_for_url(f"{live_server.url}/")
    favicon = page.request.get(f"{live_server.url}/favicon.ico")
    assert favicon.ok and "svg" in favicon.headers["content-type"]


# --- 12. chart labels on phones ---------------------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_chart_labels_are_at_least_12_px_and_stay_inside_their_card(
    live_server, page, screenshot, people, width, height
):
    open_as(page, live_server.url, "admin@example.com", "/", size=(width, height))
    sizes = page.locator("svg.chart text").evaluate_all(
        """els => els.map(el => {
            const scale = el.getScreenCTM().a;
            return parseFloat(getComputedStyle(el).fontSize) * scale;
        })"""
    )
    assert sizes and min(sizes) >= 12, min(sizes)
    outside = page.locator("svg.chart text").evaluate_all(
        """els => els.filter(el => {
            const card = el.closest('.card').getBoundingClientRect();
            const box = el.getBoundingClientRect();
            return box.left < card.left || box.right > card.right;
        }).map(el => el.textContent)"""
    )
    assert not outside, outside
    assert no_sideways_scroll(page)
    screenshot(page, f"overview-charts-{width}")


@pytest.mark.parametrize("width,height", SIZES)
def test_finished_actions_say_so(live_server, page, screenshot, people, width, height):
    owner, admin, grace, bob = people
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    open_as(page, live_server.url, "admin@example.com", f"/users/{grace.pk}/", size=(width, height))
    page.locator("#security").get_by_role("button", name="End", exact=True).click()
    page.wait_for_selector(".alert-success")
    assert page.locator(".alert-success").inner_text().strip() == (
        "The session of Grace Hopper was ended."
    )
    screenshot(page, f"action-done-{width}")
    page.goto(f"{live_server.url}/users/new/")
    page.get_by_label("Email", exact=True).fill(f"new{width}@example.com")
    page.get_by_label("Set a password now").check()
    page.locator("#id_password").fill("Correct-Horse-Battery-42")
    page.get_by_role("button", name="Create user").click()
    assert page.locator(".alert-success").inner_text().strip() == (
        f"The account for new{width}@example.com was created."
    )


def test_change_ban_starts_from_the_ban_as_it_is(live_server, page, people):
    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", f"/users/{bob.pk}/")
    page.locator("#user-header").get_by_role("link", name="Change ban").click()
    dialog = page.locator(".modal.show")
    dialog.wait_for()
    page.wait_for_timeout(400)
    expect(dialog.get_by_role("heading", name="Change ban")).to_be_visible()
    assert dialog.get_by_label("Duration").input_value() == "until"
    expect(dialog.get_by_label("Banned until")).to_be_visible()
    assert dialog.get_by_label("Banned until").input_value() != ""
    assert dialog.get_by_label("Reason").input_value() == "Spam"


# --- beyond: find a user from any page (Ctrl+K) ------------------------------------------


@pytest.mark.parametrize("width,height", SIZES)
def test_ctrl_k_finds_a_user_from_any_page(live_server, page, screenshot, people, width, height):
    owner, admin, grace, bob = people
    open_as(page, live_server.url, "admin@example.com", "/audit/", size=(width, height))
    page.keyboard.press("Control+k")
    dialog = page.locator("#jump-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'jump-q'")
    page.keyboard.type("hopp")
    dialog.locator(".jump-link").first.wait_for()
    assert dialog.locator(".jump-link").count() == 1
    assert "Grace Hopper" in dialog.locator(".jump-link").inner_text()
    assert no_sideways_scroll(page)
    screenshot(page, f"find-a-user-{width}")
    page.keyboard.press("ArrowDown")
    # A combobox: focus stays in the input, which names the active option.
    assert page.evaluate("document.activeElement.id") == "jump-q"
    active = page.locator("#jump-q").get_attribute("aria-activedescendant")
    assert page.evaluate(f"document.getElementById('{active}').classList.contains('jump-link')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/users/{grace.pk}/")
    expect(page.get_by_role("heading", name="Grace Hopper", exact=True)).to_be_visible()


def test_audit_filters_fold_away_on_phones(live_server, page, screenshot, people):
    open_as(page, live_server.url, "admin@example.com", "/audit/", size=(390, 844))
    expect(page.get_by_label("Outcome")).to_be_hidden()
    box = page.locator(".audit-table tbody tr").first.bounding_box()
    assert box["y"] + box["height"] <= 844, box
    screenshot(page, "audit-log-filters-folded-390")
    page.get_by_role("button", name="Filters").click()
    page.wait_for_timeout(400)
    expect(page.get_by_label("Outcome")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_label("Outcome")).to_be_visible()
    assert no_sideways_scroll(page)
