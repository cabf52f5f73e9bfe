"""An owner invites a client in the dashboard; a real Celery worker
delivers the email to a real SMTP server; the client opens the link from
the received message in Chromium and lands signed in with the invited
role. Also screenshots the email pages at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import OutboundEmail, User
from tests.accounts.test_emails_reliability import wait_for
from tests.conftest import SCREENSHOTS, STRONG_PASSWORD, make_user
from tests.e2e.helpers import open_as

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_invitation_is_delivered_by_the_worker_and_accepted_in_chromium(
    live_server,
    browser,
    page,
    screenshot,
    mailing_site,
    smtp_server,
):
    open_as(page, live_server.url, "owner@example.com", "/invitations/")
    screenshot(page, "invitations-empty", phone=True)
    page.get_by_label("Email addresses").fill("client@example.com, not-an-address")
    page.get_by_label("Viewer", exact=True).check()
    page.get_by_role("button", name="Review invitations").click()
    expect(page.get_by_text("not-an-address is not a valid email address.")).to_be_visible()
    screenshot(page, "invitations-review", phone=True)
    page.get_by_role("button", name="Send 1 invitation").click()
    expect(page.get_by_text("Invitation sent")).to_be_visible()
    screenshot(page, "invitations-results", phone=True)

    mailing_site.wait_for(lambda: smtp_server.messages, timeout=60, what="the invitation email")
    message = smtp_server.messages[0]
    assert message["To"] == "client@example.com"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    link = re.search(r"(http://\S+/invite/[^/\s]+/)", parts["text/plain"]).group(1)
    assert link.startswith(live_server.url)
    html = parts["text/html"]
    assert link in html

    wait_for(lambda: OutboundEmail.objects.filter(status="sent").exists(), timeout=10)
    page.goto(f"{live_server.url}/invitations/")
    screenshot(page, "invitations", phone=True)
    page.goto(f"{live_server.url}/emails/")
    screenshot(page, "emails", phone=True)

    email_page = browser.new_page(viewport={"width": 1280, "height": 900})
    email_page.set_content(html)
    screenshot(email_page, "email-invitation", phone=True)
    email_page.close()

    invitee = browser.new_context(viewport={"width": 1280, "height": 900})
    client_page = invitee.new_page()
    client_page.goto(link)
    assert client_page.url == f"{live_server.url}/invite/continue/"  # token left the URL
    expect(client_page.get_by_role("heading", name="Accept your invitation")).to_be_visible()
    screenshot(client_page, "invite-accept", phone=True)
    client_page.get_by_label("Your name").fill("Cleo Client")
    client_page.get_by_label("New password").fill("Tiny")
    client_page.get_by_label("Repeat the password").fill("Tiny")
    client_page.get_by_role("button", name="Create my account").click()
    expect(client_page.get_by_text("This password is too short")).to_be_visible()
    client_page.get_by_label("New password").fill(STRONG_PASSWORD)
    client_page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    client_page.get_by_role("button", name="Create my account").click()
    client_page.wait_for_url(f"{live_server.url}/")
    expect(client_page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(client_page.get_by_text("Welcome to Handover!")).to_be_visible()

    user = User.objects.get(email="client@example.com")
    assert user.status == "active" and user.name == "Cleo Client"
    assert [r.slug for r in user.roles.all()] == ["viewer"]

    client_page.goto(link)  # used: a clear page, not an error
    assert client_page.get_by_role(
        "heading", name="This invitation was already accepted"
    ).is_visible()
    screenshot(client_page, "invite-used", phone=True)
    invitee.close()


def test_forgot_and_reset_pages(live_server, page, screenshot, builtin_roles, settings):
    from accounts.services.passwords import password_reset_token_create

    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    member = make_user("member@example.com", name="Mona Member")
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    screenshot(page, "password-forgot", phone=True)
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    screenshot(page, "password-forgot-done", phone=True)

    settings.SITE_URL = live_server.url
    link = password_reset_token_create(actor=owner, user=member)["link"]
    page.goto(link)
    assert page.url.endswith("/password/reset/continue/")
    screenshot(page, "password-reset", phone=True)
    page.get_by_label("New password").fill("Another-Sturdy-Passphrase-77")
    page.get_by_label("Repeat the password").fill("Another-Sturdy-Passphrase-77")
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url(f"{live_server.url}/login/")
    expect(page.get_by_text("Your password was changed")).to_be_visible()
    screenshot(page, "password-reset-done", phone=True)
    page.goto(link)
    expect(page.get_by_text("This link was already used")).to_be_visible()
    screenshot(page, "password-reset-used", phone=True)
    assert SCREENSHOTS.exists()
