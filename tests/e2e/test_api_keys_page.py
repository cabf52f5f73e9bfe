"""Screenshots of the API keys pages."""

import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_keys_pages(live_server, page, screenshot, builtin_roles, settings):
    settings.MFA_POLICY = "none"
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    open_as(page, live_server.url, "owner@example.com", "/api-keys/")
    screenshot(page, "api-keys-empty")
    page.get_by_role("link", name="New API key").first.click()
    page.get_by_label("Name", exact=True).fill("Billing sync")
    page.get_by_label("Template").select_option("operator")
    screenshot(page, "api-keys-create")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").input_value()
    assert key.startswith("hv_")
    screenshot(page, "api-keys-created")
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("cell", name="Billing sync")).to_be_visible()
    screenshot(page, "api-keys-list", phone=True)
