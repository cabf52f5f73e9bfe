"""An administrator erases a deleted user's personal data from the audit
log, from the user's page, in Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_erases_a_deleted_users_audit_data_from_their_page(
    live_server, page, screenshot, builtin_roles, settings
):
    from accounts.services.users import user_delete
    from audit.models import AuditEvent
    from audit.services import verify_chain

    settings.MFA_POLICY = "none"
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    gone = make_user("mona@example.com", name="Mona Member")
    user_delete(actor=owner, user=gone, reason="Asked by mona@example.com")
    open_as(page, live_server.url, "owner@example.com", f"/users/{gone.pk}/")
    button = page.get_by_role("link", name="Erase personal data…")
    button.scroll_into_view_if_needed()
    screenshot(page, "audit-scrub-user-page")
    button.click()
    page.wait_for_url(f"{live_server.url}/audit/user/{gone.pk}/scrub/")
    screenshot(page, "audit-scrub-confirm", phone=True)
    page.get_by_role("button", name="Erase personal data").click()
    page.wait_for_url(f"{live_server.url}/users/{gone.pk}/")
    assert "Personal data erased from" in page.locator("#messages").inner_text()
    screenshot(page, "audit-scrub-done")
    assert AuditEvent.objects.filter(action="audit.user.scrubbed", outcome="success").exists()
    assert verify_chain().ok
