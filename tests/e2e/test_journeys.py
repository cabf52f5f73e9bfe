"""End-to-end journeys in Chromium against the real server, with a real
Celery worker and a real SMTP server where email is involved. Every page
visited is checked with axe-core (tests/e2e/a11y.py) and screenshotted.

Steps already covered in depth elsewhere are reused, not repeated: the
invitation pages (test_invitation_flow.py), the TOTP enrolment page
(test_mfa.py), the batch dry run (test_users.py::test_admin_previews_a_batch,
checked here with axe as part of the batch journey)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.accounts.test_emails_reliability import wait_for
from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as, preview_ban_of_everyone, sign_in, submit_sign_in
from tests.e2e.test_mfa import totp_now

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Another-Sturdy-Passphrase-77"


def look(page, screenshot, name, *, phone=False):
    """axe on the page as it is, then the screenshot(s)."""
    a11y.check(page, name, wcag_only="/admin/" in page.url)
    screenshot(page, f"journey-{name}", phone=phone)


def received(smtp_server, to, count):
    """The text part and the links of the `count`-th message sent to `to`."""
    wait_for(
        lambda: len([m for m in smtp_server.messages if m["To"] == to]) >= count,
        timeout=60,
        what=f"email #{count} to {to}",
    )
    message = [m for m in smtp_server.messages if m["To"] == to][count - 1]
    text = next(
        p.get_payload(decode=True).decode()
        for p in message.walk()
        if p.get_content_type() == "text/plain"
    )
    return message["Subject"], re.findall(r"(http://\S+/)", text)


def status_of(page, url) -> int:
    return page.goto(url).status


@pytest.mark.worker
def test_client_journey_invited_viewer_banned_unbanned_and_resetting(
    live_server,
    browser,
    page,
    screenshot,
    mailing_site,
    smtp_server,
    settings,
):
    settings.MFA_POLICY = "managers"
    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    base = live_server.url

    # 1. The owner signs in and, as a manager, must enrol an authenticator app.
    page.goto(f"{base}/login/")
    look(page, screenshot, "login")
    submit_sign_in(page, "owner@example.com")
    page.wait_for_url(f"{base}/account/mfa/setup/**")
    look(page, screenshot, "owner-mfa-setup")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.get_by_label("Code from the app").fill(totp_now(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_url(f"{base}/account/mfa/recovery-codes/**")
    look(page, screenshot, "owner-recovery-codes")
    page.get_by_role("button", name="I have saved them").click()
    page.wait_for_load_state()

    # 2. ...and invites a client with the viewer role.
    page.goto(f"{base}/invitations/")
    look(page, screenshot, "owner-invitations")
    page.get_by_label("Email addresses").fill("client@example.com")
    page.get_by_label("Viewer", exact=True).check()
    page.get_by_role("button", name="Review invitations").click()
    look(page, screenshot, "owner-invitation-review")
    page.get_by_role("button", name="Send 1 invitation").click()
    page.get_by_text("Invitation sent").wait_for()  # is_visible() does not wait for the page

    # 3. The client receives the email, accepts and sets a password.
    subject, links = received(smtp_server, "client@example.com", 1)
    [link] = [u for u in links if "/invite/" in u]
    client_context = browser.new_context(viewport={"width": 1280, "height": 900})
    client = client_context.new_page()
    client.goto(link)
    look(client, screenshot, "client-accept")
    client.get_by_label("Your name").fill("Cleo Client")
    client.get_by_label("New password").fill(STRONG_PASSWORD)
    client.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    client.get_by_role("button", name="Create my account").click()
    client.wait_for_url(f"{base}/")
    client.get_by_role("button", name="Sign out").click()
    client.wait_for_url(f"{base}/login/")

    # 4. The client signs in and sees only what a viewer may.
    sign_in(client, base, "client@example.com")
    client.wait_for_url(f"{base}/")
    look(client, screenshot, "client-overview", phone=True)
    client.goto(f"{base}/users/")
    look(client, screenshot, "client-users", phone=True)
    expect(client.get_by_role("heading", name="Users")).to_be_visible()
    for action in ("New user", "Preview batch", "Export CSV"):
        assert client.get_by_role("button", name=action).count() == 0
        assert client.get_by_role("link", name=action).count() == 0
    assert client.get_by_label("Batch action").count() == 0
    owner = User.objects.get(email="owner@example.com")
    client.goto(f"{base}/users/{owner.pk}/")
    look(client, screenshot, "client-user-detail")
    assert client.locator(".user-actions a").count() == 0  # no Ban, Disable, Delete...
    me = User.objects.get(email="client@example.com")
    forbidden = [
        "/users/new/",
        f"/users/{owner.pk}/ban/",
        f"/users/{owner.pk}/edit/",
        "/emails/",
        "/roles/new/",
        "/audit/",
        "/api-keys/",
        f"/roles/users/{me.pk}/roles/",
    ]
    statuses = {url: status_of(client, base + url) for url in forbidden}
    assert set(statuses.values()) == {403}, statuses
    look(client, screenshot, "client-403")

    # 5. An administrator bans the client; the client's open page is signed
    #    out on its next request.
    client.goto(f"{base}/users/")
    page.goto(f"{base}/users/{me.pk}/")
    page.locator(".user-actions").get_by_role("link", name="Ban").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)
    page.get_by_label("Reason").fill("Shared their password")
    look(page, screenshot, "admin-ban-dialog")
    page.locator(".modal.show").get_by_role("button", name="Ban").click()
    page.wait_for_selector("text=is banned")
    look(page, screenshot, "admin-client-banned")
    client.reload()
    assert client.url.startswith(f"{base}/login/")
    look(client, screenshot, "client-signed-out")
    submit_sign_in(client, "client@example.com")
    client.get_by_role("alert").wait_for()  # banned: the generic refusal (waits for the page)
    # The client is told by email (a security notice, SECURITY_NOTICE_BANNED).
    subject, _links = received(smtp_server, "client@example.com", 2)
    assert subject == "Security notice: Your account was banned"

    # 6. Unban.
    page.locator(".user-actions").get_by_role("link", name="Unban").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(400)
    page.locator(".modal.show").get_by_role("button", name="Unban").click()
    page.wait_for_selector("text=is no longer banned")
    assert User.objects.get(pk=me.pk).status == "active"

    # 7. The client resets their password through the forgot-password email.
    client.goto(f"{base}/login/")
    client.get_by_role("link", name="Forgot your password?").click()
    look(client, screenshot, "client-forgot")
    client.get_by_label("Email").fill("client@example.com")
    client.get_by_role("button", name="Send me a reset link").click()
    look(client, screenshot, "client-forgot-done")
    subject, links = received(smtp_server, "client@example.com", 3)
    [reset] = [u for u in links if "/password/reset/" in u]
    client.goto(reset)
    look(client, screenshot, "client-reset")
    client.get_by_label("New password").fill(NEW_PASSWORD)
    client.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    client.get_by_role("button", name="Set new password").click()
    client.wait_for_url(f"{base}/login/")
    sign_in(client, base, "client@example.com", password=NEW_PASSWORD)
    client.wait_for_url(f"{base}/")
    expect(client.get_by_role("heading", name="Overview")).to_be_visible()
    client_context.close()


@pytest.fixture
def staff(builtin_roles):
    from datetime import timedelta

    from django.utils import timezone

    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    make_user("grace@example.com", roles=["editor"], name="Grace Hopper")
    make_user("ada@example.com", roles=["viewer"], name="Ada Lovelace")
    make_user(
        "linus@example.com",
        name="Linus Torvalds",
        banned_until=timezone.now() + timedelta(days=3),
    )
    return owner


def test_admin_batch_bans_with_a_dry_run_then_reads_the_per_item_result(
    live_server, page, screenshot, staff
):
    from accounts.models import User

    base = live_server.url
    open_as(page, base, "admin@example.com", "/users/")
    look(page, screenshot, "batch-users")
    # The dry run: who would be skipped, and why; nothing changed yet.
    preview_ban_of_everyone(page)
    assert User.objects.get(email="grace@example.com").status == "active"
    look(page, screenshot, "batch-dry-run", phone=True)
    page.get_by_role("button", name=re.compile(r"^Ban \d+ users?$")).click()
    page.wait_for_selector("h1:has-text('Ban: result')")
    look(page, screenshot, "batch-result", phone=True)
    # Per item: each skipped user has a row with its reason; the processed
    # ones are folded into "Show the N processed users" (issue 27).
    result = {
        row.locator("td").first.inner_text().strip(): row.inner_text()
        for row in page.locator("table tbody tr").all()
    }
    processed = page.locator("details.batch-processed")
    processed.locator("summary").click()
    assert "grace@example.com" in processed.inner_text()
    assert "grace@example.com" not in result
    assert "Skipped" in result["owner@example.com"]
    assert "The owner cannot be banned." in result["owner@example.com"]
    # Linus was banned for three days: the batch changes his ban to the one
    # chosen (permanent), as the page and the API do (issue 22).
    assert "linus@example.com" in processed.inner_text()
    assert User.objects.get(email="linus@example.com").is_banned_permanently
    assert User.objects.get(email="grace@example.com").status == "banned"
    assert User.objects.get(email="owner@example.com").status == "active"


def test_admin_creates_a_role_from_a_template_assigns_it_and_reads_the_sources(
    live_server, page, screenshot, staff
):
    from rbac.models import Role
    from rbac.permissions import TEMPLATES

    base = live_server.url
    ada = User.objects.get(email="ada@example.com")
    open_as(page, base, "owner@example.com", "/roles/new/")
    look(page, screenshot, "role-new")
    page.get_by_role("group", name="Permission templates").get_by_role(
        "link", name=TEMPLATES["operator"]["name"]
    ).click()
    page.locator("input[name=permissions]:checked").first.wait_for()
    page.get_by_label("Name", exact=True).fill("Helpdesk")
    page.get_by_label("Slug").fill("helpdesk")
    page.get_by_role("button", name="Preview changes").click()
    page.locator(".role-preview").wait_for()
    look(page, screenshot, "role-new-preview")
    page.get_by_role("button", name="Create role").click()
    page.wait_for_url(f"{base}/roles/helpdesk/")
    look(page, screenshot, "role-detail")
    role = Role.objects.get(slug="helpdesk")
    assert set(role.permissions) == set(TEMPLATES["operator"]["permissions"])

    page.goto(f"{base}/roles/users/{ada.pk}/access/")
    page.get_by_label("Assign a role").select_option("helpdesk")
    page.get_by_role("button", name="Assign").click()
    page.get_by_text("Ada Lovelace now has the role Helpdesk.").wait_for()
    look(page, screenshot, "role-effective-permissions", phone=True)
    sources = {
        row.locator("td").first.inner_text().strip(): row.locator("td").last.inner_text()
        for row in page.locator(".effective-table tbody tr").all()
    }
    for permission in TEMPLATES["operator"]["permissions"]:
        assert "Helpdesk" in sources[permission], (permission, sources[permission])
    assert "Viewer" in sources["users:read"]  # held through both roles: both shown


def test_operator_uses_django_admin_with_otp_and_runs_a_guarded_action(
    live_server, browser, screenshot, staff
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from audit.models import AuditEvent
    from rbac.models import Role, UserRole
    from rbac.permissions import TEMPLATES
    from tests.e2e.helpers import totp_code

    ops = Role.objects.create(
        slug="ops", name="Ops", permissions=sorted(TEMPLATES["operator"]["permissions"])
    )
    operator = make_user("operator@example.com", name="Otto Operator")
    UserRole.objects.create(user=operator, role=ops)
    device = TOTPDevice.objects.create(user=operator, name="Otto's phone", confirmed=True)
    base = live_server.url

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/admin/")
    # One front door: Django admin signs you in through the dashboard.
    page.wait_for_url(f"{base}/login/?next=%2Fadmin%2F")
    look(page, screenshot, "admin-login")
    submit_sign_in(page, "operator@example.com")
    page.wait_for_url(f"{base}/login/mfa/")
    page.locator("#id_otp_token").fill("000000" if totp_code(device) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    page.locator("#code-error").wait_for()  # a wrong code keeps the operator out
    assert AuditEvent.objects.filter(
        action="accounts.login.failed", target_id=str(operator.pk), reason="Wrong code."
    ).exists()
    page.wait_for_timeout(1100)  # past django-otp's throttle after the wrong code
    page.locator("#id_otp_token").fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{base}/admin/")
    look(page, screenshot, "admin-index")

    page.goto(f"{base}/admin/accounts/user/")
    look(page, screenshot, "admin-users")
    from accounts.models import UserSession

    grace = User.objects.get(email="grace@example.com")
    owner = User.objects.get(email="owner@example.com")
    for user in (grace, owner):
        UserSession.objects.create(session_key=f"{user.pk.hex}"[:32], user=user)
        page.locator(f"input[name=_selected_action][value='{user.pk}']").check()
    page.locator("select[name=action]").select_option(label="End all sessions of selected users")
    page.get_by_role("button", name="Go").click()
    page.wait_for_load_state()
    messages = page.locator(".messagelist").inner_text()
    look(page, screenshot, "admin-action-result")
    # The guard refuses the owner, in its own words, and records the refusal.
    assert "Sessions ended: 1 done." in messages
    assert "The owner cannot be signed out by someone else." in messages
    assert AuditEvent.objects.filter(outcome="denied", target_id=str(owner.pk)).exists()
    assert not UserSession.objects.filter(user=grace, ended_at=None).exists()
    assert UserSession.objects.filter(user=owner, ended_at=None).exists()
    context.close()
