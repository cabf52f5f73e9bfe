"""Browser check of the audit pages and the overview charts (screenshots
at 1280 and 390 px in var/screenshots/)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit import services as audit
from tests.conftest import make_user
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(builtin_roles, monkeypatch):
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    rng = random.Random(7)
    now = timezone.now()
    people = [make_user(f"person{i}@example.com", name=f"Person {i}") for i in range(6)]
    for days in range(29, -1, -1):
        monkeypatch.setattr(audit.timezone, "now", lambda d=days: now - dt.timedelta(days=d))
        for _ in range(rng.randint(1, 9)):
            audit.record("accounts.login.succeeded", actor=rng.choice(people), target=None)
        for _ in range(rng.randint(0, 3)):
            audit.record(
                "accounts.login.failed",
                actor_label="someone@example.com",
                outcome="failed",
                reason="Wrong password.",
            )
    monkeypatch.setattr(audit.timezone, "now", lambda: now)
    audit.record(
        "accounts.user.updated",
        actor=owner,
        target=people[0],
        reason="Name corrected at the user's request",
        changes={"name": ["Person 0", "Pat Zero"], "phone": ["", "+44 20 7946 0000"]},
    )
    audit.record(
        "accounts.user.banned",
        actor=None,
        actor_label="mallory@example.com",
        target=people[1],
        outcome="denied",
        reason="permission_denied: You need the permission users:ban to do this.",
    )
    return owner


def test_audit_pages_and_overview_look_finished(live_server, page, screenshot, history):
    sign_in(page, live_server.url, "owner@example.com")
    page.wait_for_url(f"{live_server.url}/")
    for width, suffix in ((1280, ""), (390, "-phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/")
        assert page.locator("svg.chart").count() >= 4
        screenshot(page, f"overview-charts{suffix}")
        page.goto(f"{live_server.url}/audit/")
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        screenshot(page, f"audit-list{suffix}")
        page.screenshot(
            path=str(screenshot(page, f"audit-list{suffix}")).replace(".png", "-top.png")
        )
        page.goto(f"{live_server.url}/audit/?action=accounts.user.updated")
        event_url = page.locator("#audit-results tbody a").first.get_attribute("href")
        page.goto(f"{live_server.url}{event_url}")
        expect(page.get_by_role("heading", name="Changes")).to_be_visible()
        screenshot(page, f"audit-detail{suffix}")
    # The filter form works through htmx and keeps the filter in the URL.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/audit/")
    page.get_by_label("Outcome").select_option("failed")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/audit/?*outcome=failed*")
    assert page.locator("#audit-results .badge.outcome-failed").count() > 0
    assert page.locator("#audit-results .badge.outcome-success").count() == 0


def test_events_waiting_for_the_sealer_are_marked_pending(
    live_server, page, screenshot, builtin_roles, settings
):
    """Issue 29: an event is on the page as soon as it commits, marked
    "pending" until the sealer links it; the list says how many wait."""
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    member = make_user("linus@example.com", name="Linus Torvalds")
    audit.record(
        "accounts.user.updated", actor=None, target=member, changes={"name": ["L", "Linus"]}
    )
    audit.seal()
    settings.AUDIT_CHAIN_ENABLED = False  # the sealer stays away: these wait
    audit.record("accounts.user.banned", actor=None, target=member, reason="Spam")
    audit.record("accounts.user.unbanned", actor=None, target=member)
    sign_in(page, live_server.url, "owner@example.com")
    page.wait_for_url(f"{live_server.url}/")
    for width, suffix in ((1280, ""), (390, "-phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/audit/?target={member.pk}")
        status = page.locator(".audit-chain-status")
        expect(status).to_contain_text("events are waiting to be sealed into the hash chain")
        pending = page.locator("#audit-results .badge", has_text="pending")
        expect(pending).to_have_count(2)  # the two waiting; the sealed one is not marked
        screenshot(page, f"audit-pending{suffix}")
    page.locator("#audit-results tbody a").first.click()
    expect(page.get_by_text("Pending: recorded, not sealed into the chain yet")).to_be_visible()
    screenshot(page, "audit-detail-pending")
    settings.AUDIT_CHAIN_ENABLED = True
    audit.seal()
    page.goto(f"{live_server.url}/audit/?target={member.pk}")
    expect(page.locator(".audit-chain-status")).to_contain_text("Every event is sealed")
    expect(page.locator("#audit-results .badge", has_text="pending")).to_have_count(0)
