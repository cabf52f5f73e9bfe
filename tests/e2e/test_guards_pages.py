"""What 'one guard, one action' looks like on the pages: a profile editor
edits a profile but not the address, the built-in editor changes no one's
account but their own, and revoking another key of your own asks for your
password first."""

import pytest
from playwright.sync_api import expect

from tests.conftest import STRONG_PASSWORD, make_user
from tests.e2e.helpers import open_as, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_profile_editor_edits_the_profile_but_not_the_address(
    live_server, page, screenshot, builtin_roles, settings
):
    from rbac.models import Role

    settings.MFA_POLICY = "none"
    make_user("owner@example.com", roles=["owner"], is_owner=True)
    Role.objects.create(
        slug="profiles", name="Profile editor", permissions=["users:read", "users:update"]
    )
    make_user("editor@example.com", roles=["profiles"], name="Edith Editor")
    member = make_user("member@example.com", name="Mona Member")
    open_as(page, live_server.url, "editor@example.com", f"/users/{member.pk}/edit/")
    email = page.get_by_label("Email")
    assert email.is_disabled()
    expect(page.get_by_text("Changing the address needs users:update-email.")).to_be_visible()
    screenshot(page, "user-edit-editor")
    page.get_by_label("Name").fill("Mona M.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/users/{member.pk}/")
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    member.refresh_from_db()
    assert (member.name, member.email) == ("Mona M.", "member@example.com")


def test_the_builtin_editor_changes_no_one_elses_account(
    live_server, page, screenshot, builtin_roles, settings
):
    settings.MFA_POLICY = "none"
    make_user("owner@example.com", roles=["owner"], is_owner=True)
    make_user("editor@example.com", roles=["editor"], name="Edith Editor")
    member = make_user("member@example.com", name="Mona Member")
    open_as(page, live_server.url, "editor@example.com", f"/users/{member.pk}/")
    expect(page.get_by_role("heading", name="Mona Member").first).to_be_visible()
    assert page.get_by_role("link", name="Edit").count() == 0
    screenshot(page, "user-detail-builtin-editor")
    response = page.goto(f"{live_server.url}/users/{member.pk}/edit/")
    assert response.status == 403
    page.goto(f"{live_server.url}/account/")
    page.get_by_label("Name").fill("Edie")
    page.get_by_role("button", name="Save").first.click()
    page.wait_for_load_state()
    from accounts.models import User

    assert User.objects.get(email="editor@example.com").name == "Edie"


def test_revoking_another_key_of_your_own_asks_for_your_password(
    live_server, page, screenshot, builtin_roles, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import ApiKey, UserSession
    from accounts.services.api_keys import api_key_create

    settings.MFA_POLICY = "none"
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True)
    api_key_create(actor=owner, name="old sync", template="viewer")
    sign_in(page, live_server.url, "owner@example.com")
    page.wait_for_url(f"{live_server.url}/")
    # Signing in is a fresh proof; make it an old one.
    UserSession.objects.update(reauthenticated_at=timezone.now() - timedelta(hours=1))
    page.goto(f"{live_server.url}/api-keys/")
    page.once("dialog", lambda dialog: dialog.accept())  # "Revoke the key ...?"
    page.get_by_role("button", name="Revoke").first.click()
    page.wait_for_url("**/account/reauthenticate/**")
    screenshot(page, "api-keys-revoke-reauth")
    assert ApiKey.objects.get().status == "active"
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/api-keys/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").first.click()
    page.wait_for_load_state()
    expect(page.get_by_text("was revoked")).to_be_visible()
    screenshot(page, "api-keys-revoked")
    assert ApiKey.objects.get().status == "revoked"


def test_keys_revoked_by_a_ban_say_why(live_server, page, screenshot, builtin_roles, settings):
    from accounts.services.api_keys import api_key_create
    from accounts.services.users import user_ban, user_unban
    from rbac.permissions import TEMPLATES

    settings.MFA_POLICY = "none"
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True)
    operator = make_user(
        "op@example.com", direct_permissions=sorted(TEMPLATES["operator"]["permissions"])
    )
    api_key_create(actor=operator, name="ci", template="viewer")
    user_ban(actor=owner, user=operator)
    user_unban(actor=owner, user=operator)
    open_as(page, live_server.url, "owner@example.com", "/api-keys/")
    row = page.get_by_role("row", name="ci")
    assert "Revoked" in row.inner_text() and "user banned" in row.inner_text()
    screenshot(page, "api-keys-revoked-by-ban")


def test_a_sign_in_link_withdrawn_since_it_was_made_says_so(
    live_server, page, screenshot, builtin_roles, settings
):
    from accounts.services.passwords import magic_link_send
    from rbac.models import Role
    from rbac.services import user_role_assign

    settings.MFA_POLICY = "none"
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True)
    operator = make_user("operator@example.com", roles=["admin"])
    member = make_user("member@example.com", name="Mona Member")
    link = magic_link_send(actor=operator, user=member, type="signup")
    user_role_assign(actor=owner, user=member, role=Role.objects.get(slug="admin"))
    page.goto(link.replace("http://testserver", live_server.url))
    expect(page.get_by_role("heading", name="This link was withdrawn")).to_be_visible()
    expect(page.get_by_text("as much access as the person who made it")).to_be_visible()
    screenshot(page, "magic-link-withdrawn", phone=True)
