"""Accessibility in Chromium: axe-core finds no serious or critical
violation on any dashboard page (owner and viewer), public page or dialog;
sign-in and the users list work with the keyboard alone, with a visible
focus ring."""

from __future__ import annotations

import pytest

from tests.conftest import make_user, need
from tests.e2e import a11y
from tests.e2e.helpers import ensure_device, sign_in, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_axe_core_is_installed():
    need(a11y.available(), f"axe-core is not installed at {a11y.AXE} (run `npm ci`)")


@pytest.fixture
def site(builtin_roles):
    from django.utils import timezone

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    viewer = make_user("viewer@example.com", roles=["viewer"], name="Victor Viewer")
    make_user("grace@example.com", roles=["editor"], name="Grace Hopper", last_login=timezone.now())
    make_user("ada@example.com", name="Ada Lovelace", email_verified_at=None)
    return owner, viewer


PUBLIC = [
    "/login/",
    "/password/forgot/",
    "/invite/not-a-real-token/",
    "/sign-in/not-me/not-a-real-token/",
]
OWNER_PAGES = [
    "/",
    "/users/",
    "/users/{viewer}/",
    "/users/{viewer}/edit/",
    "/users/new/",
    "/roles/",
    "/roles/viewer/",
    "/roles/viewer/edit/",
    "/roles/new/",
    "/roles/new/?template=viewer",
    "/roles/users/{viewer}/access/",
    "/roles/ownership/",
    "/invitations/",
    "/emails/",
    "/audit/",
    "/api-keys/",
    "/api-keys/new/",
    "/account/",
    "/account/delete/",
    "/users/?status=banned",
    "/users/?q=nobody-matches",
]
VIEWER_PAGES = ["/", "/users/", "/users/{owner}/", "/account/", "/account/delete/", "/roles/"]


def test_every_page_has_no_serious_accessibility_violation(live_server, page, site):
    need(a11y.available(), "axe-core is not installed (run `npm ci`)")
    owner, viewer = site
    base = live_server.url
    for url in PUBLIC:
        page.goto(base + url)
        a11y.check(page, url)
    sign_in(page, base, "owner@example.com")
    for url in OWNER_PAGES:
        page.goto(base + url.format(viewer=viewer.pk))
        a11y.check(page, url)
    # A confirmation dialog, open.
    page.goto(f"{base}/users/{viewer.pk}/")
    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)
    a11y.check(page, "confirmation dialog")

    other = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    phone = other.new_page()
    sign_in(phone, base, "viewer@example.com")
    for url in VIEWER_PAGES:
        phone.goto(base + url.format(owner=owner.pk))
        a11y.check(phone, f"viewer {url} (phone)")
    other.close()


def focus_ring(page) -> str:
    """The focused element's outline, proof the focus is visible."""
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2"
        " ? s.outlineWidth + ' ' + s.outlineStyle : ''; }"
    )


def test_sign_in_and_the_users_list_work_with_the_keyboard_alone(live_server, page, site):
    base = live_server.url
    device = ensure_device("owner@example.com")
    page.goto(f"{base}/login/")
    # The email field has the focus on arrival.
    assert page.evaluate("document.activeElement.id") == "id_email"
    page.keyboard.type("owner@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_password"
    assert focus_ring(page), "no visible focus on the password field"
    page.keyboard.type("Correct-Horse-Battery-42")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    assert focus_ring(page), "no visible focus on the Sign in button"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/login/mfa/")
    assert page.evaluate("document.activeElement.id") == "id_otp_token"
    page.keyboard.type(totp_code(device))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/users/")
    # Tab from the top: the skip link comes first, and leads to the content.
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.textContent.trim()")
    assert first == "Skip to content"
    assert focus_ring(page), "no visible focus on the skip link"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('#main')"), "skip link skips nothing"
    steps = 0
    while page.evaluate("document.activeElement.id") != "id_q":
        page.keyboard.press("Tab")
        steps += 1
        assert steps < 60, "the search field cannot be reached with Tab"
    assert focus_ring(page), "no visible focus on the search field"
    page.keyboard.type("lovelace")
    page.wait_for_url("**q=lovelace**")
    page.wait_for_function("document.querySelectorAll('.users-table tbody tr').length === 1")
    # On to the user's link, then Enter opens it.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Ada Lovelace":
            break
    else:
        pytest.fail("the user's link cannot be reached with Tab")
    assert focus_ring(page), "no visible focus on the user link"
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Ada Lovelace')")
