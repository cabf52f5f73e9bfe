"""The webhooks pages in Chromium: add an endpoint, copy its secret, send a
test event to a real receiver and see it in the delivery log."""

import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from tests.conftest import make_user
from tests.e2e.helpers import open_as
from tests.webhooks.receiver import start_receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_webhooks_pages(live_server, page, screenshot, builtin_roles, settings):
    settings.MFA_POLICY = "none"
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    receiver, server = start_receiver()
    try:
        make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
        open_as(page, live_server.url, "owner@example.com", "/webhooks/")
        screenshot(page, "webhooks-empty")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("CRM sync")
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.locator("#secret").input_value()
        assert secret.startswith("whsec_")
        screenshot(page, "webhooks-created")
        page.get_by_role("link", name="Done").click()
        page.get_by_role("button", name="Send test event").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Delivered").first).to_be_visible()
        [got] = receiver.got()
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
        screenshot(page, "webhooks-detail", phone=True)
    finally:
        server.shutdown()
        server.server_close()
