"""Viewing as someone in Chromium (issue 26): started from the user page
with a reason, a banner on every page the user's navigation reaches, at
desktop and phone widths, and Stop returns to the operator's own view."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rbac.permissions import ALL_PERMISSIONS
from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = "[data-impersonation-banner]"


@pytest.fixture
def people(builtin_roles):
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("grace@example.com", name="Grace Hopper", direct_permissions=sorted(ALL_PERMISSIONS))
    return make_user("ada@example.com", name="Ada Lovelace", roles=["editor"])


def _start(page, live_server, ada, *, size=None):
    open_as(page, live_server.url, "grace@example.com", f"/users/{ada.pk}/", size=size)
    page.get_by_role("link", name="View as…").click()
    page.get_by_label("Reason").fill("Ticket 42: the roles page looks empty to her")
    page.get_by_role("button", name="Start viewing as them").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("phone", [False, True], ids=["1280", "390"])
def test_the_banner_is_on_every_page_while_viewing_as_someone(
    page, live_server, people, screenshot, phone
):
    ada = people
    size = (390, 844) if phone else (1280, 900)
    _start(page, live_server, ada, size=size)
    banner = page.locator(BANNER)
    expect(banner).to_be_visible()
    text = banner.inner_text()
    assert "Viewing as Ada Lovelace (ada@example.com)" in text
    assert "read-only" in text and "min left" in text
    screenshot(page, f"impersonation_banner_overview{'_phone' if phone else ''}", phone=phone)
    # Every page her navigation offers (her pages: an editor's), and her account.
    links = page.eval_on_selector_all(
        "#sidebar .nav-link", "els => els.map(e => e.getAttribute('href'))"
    )
    assert "/audit/" not in links  # an editor has no audit log
    for path in [*links, f"/users/{ada.pk}/", "/account/"]:
        page.goto(f"{live_server.url}{path}")
        assert page.locator(BANNER).count() == 1, path
        expect(page.locator(BANNER), path).to_be_visible()
    assert "ada@example.com" in page.locator("main").inner_text()  # her account page
    screenshot(page, f"impersonation_banner_account{'_phone' if phone else ''}", phone=phone)
    page.locator(BANNER).get_by_role("button", name="Stop").click()
    page.wait_for_load_state()
    assert page.locator(BANNER).count() == 0
    assert "You see your own dashboard again." in page.content()
