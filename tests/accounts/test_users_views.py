"""The users pages: list, export, detail, create, edit, status actions,
personal-data export, batch pages."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from rbac.models import Role
from tests.conftest import STRONG_PASSWORD, make_user, reauthenticate

pytestmark = pytest.mark.django_db


def test_list_shows_users_with_status_roles_and_escapes_names(client_for, admin_user):
    make_user("x@example.com", name="<script>alert(1)</script>")
    response = client_for(admin_user).get(reverse("users:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)" not in body
    assert "admin@example.com" in body and "Admin" in body


def test_list_hides_deleted_users_by_default(client_for, admin_user):
    from django.utils import timezone

    make_user("gone@example.com", deleted_at=timezone.now())
    client = client_for(admin_user)
    assert "gone@example.com" not in client.get(reverse("users:list")).content.decode()
    deleted = client.get(reverse("users:list"), {"status": "deleted"}).content.decode()
    assert "gone@example.com" in deleted


def test_list_htmx_request_gets_the_results_partial(client_for, admin_user):
    response = client_for(admin_user).get(reverse("users:list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and 'id="batch-form"' in body


def test_list_no_match_state(client_for, admin_user):
    body = client_for(admin_user).get(reverse("users:list"), {"q": "zzzz-nobody"}).content.decode()
    assert "No users match these filters" in body


def test_list_needs_users_read(client_for, member):
    response = client_for(member).get(reverse("users:list"))
    assert response.status_code == 403
    assert "users:read" in response.content.decode()


def test_detail_of_a_deleted_user_is_a_404_with_a_message(client_for, admin_user):
    user = make_user("temp@example.com")
    pk = user.pk
    user.delete()
    response = client_for(admin_user).get(reverse("users:detail", args=[pk]))
    assert response.status_code == 404
    assert "no longer exists" in response.content.decode()


def test_action_on_a_user_deleted_meanwhile_is_a_404(client_for, admin_user):
    user = make_user("temp@example.com")
    pk = user.pk
    client = client_for(admin_user)
    assert client.get(reverse("users:ban", args=[pk])).status_code == 200
    user.delete()
    response = client.post(reverse("users:ban", args=[pk]), {"duration": "permanent"})
    assert response.status_code == 404
    assert "no longer exists" in response.content.decode()


def test_detail_shows_every_section(client_for, admin_user, member):
    body = client_for(admin_user).get(reverse("users:detail", args=[member.pk])).content.decode()
    for heading in [
        "Profile",
        "Status",
        "Roles and permissions",
        "Security",
        "Invitations",
        "Password and sign-in links",
        "Activity",
    ]:
        assert f">{heading}</h2>" in body


def test_create_user_with_password(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("users:create"),
        {
            "email": "New@Example.com",
            "name": "Nina",
            "roles": ["viewer"],
            "mode": "password",
            "password": STRONG_PASSWORD,
            "auto_confirm": "on",
        },
    )
    user = User.objects.get(email="new@example.com")
    assert response.status_code == 302
    assert user.email_verified_at is not None
    assert list(user.roles.values_list("slug", flat=True)) == ["viewer"]


def test_create_duplicate_email_any_case_is_a_field_error(client_for, admin_user, member):
    response = client_for(admin_user).post(
        reverse("users:create"),
        {"email": "MEMBER@example.com", "mode": "password", "password": STRONG_PASSWORD},
    )
    assert response.status_code == 400
    assert "A user with this email already exists." in response.content.decode()


def test_create_malformed_email_is_a_field_error(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("users:create"), {"email": "not-an-email", "mode": "password", "password": "x"}
    )
    assert "Enter a valid email address." in response.content.decode()


def test_create_weak_password_shows_the_validator_message(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("users:create"), {"email": "w@example.com", "mode": "password", "password": "123"}
    )
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(email="w@example.com").exists()


def test_create_by_invitation_makes_a_pending_user_and_queues_the_email(client_for, admin_user):
    from accounts.models import Invitation, OutboundEmail

    response = client_for(admin_user).post(
        reverse("users:create"), {"email": "inv@example.com", "name": "In Vited", "mode": "invite"}
    )
    assert response.status_code == 302
    user = User.objects.get(email="inv@example.com")
    assert user.status == "invited"
    invitation = Invitation.objects.get(user=user)
    assert invitation.status == "pending"
    assert OutboundEmail.objects.filter(to="inv@example.com", template="invitation").exists()


def test_edit_invalid_metadata_json_is_a_field_error(client_for, admin_user, member):
    response = client_for(admin_user).post(
        reverse("users:edit", args=[member.pk]),
        {"name": "M", "email": member.email, "phone": "", "metadata": "{not json"},
    )
    assert "Metadata is not valid JSON" in response.content.decode()


def test_edit_saves_profile(client_for, admin_user, member):
    response = client_for(admin_user).post(
        reverse("users:edit", args=[member.pk]),
        {"name": "Mona M", "email": member.email, "phone": "+44 20 1234", "metadata": '{"a": 1}'},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.name, member.phone, member.metadata) == ("Mona M", "+44 20 1234", {"a": 1})


def test_ban_confirmation_page_then_ban(client_for, admin_user, member):
    client = client_for(admin_user)
    page = client.get(reverse("users:ban", args=[member.pk]))
    assert "Ban user" in page.content.decode()
    response = client.post(
        reverse("users:ban", args=[member.pk]),
        {"duration": "days", "amount": "3", "reason": "spam"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == "banned" and member.ban_reason == "spam"


def test_ban_confirmation_in_a_dialog_for_htmx(client_for, admin_user, member):
    response = client_for(admin_user).get(
        reverse("users:ban", args=[member.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'class="modal fade"' in body and "<html" not in body


def test_ban_with_an_end_in_the_past_is_refused(client_for, admin_user, member):
    response = client_for(admin_user).post(
        reverse("users:ban", args=[member.pk]), {"duration": "until", "until": "2001-01-01T10:00"}
    )
    assert "The ban must end in the future." in response.content.decode()


def test_banning_the_owner_from_the_page_shows_the_reason(client_for, admin_user, owner):
    response = client_for(admin_user).post(
        reverse("users:ban", args=[owner.pk]), {"duration": "permanent"}
    )
    assert response.status_code == 403
    assert "The owner cannot be banned." in response.content.decode()


def test_hard_delete_requires_the_typed_email(client_for, admin_user, member):
    client = client_for(admin_user)
    reauthenticate(client)
    response = client.post(reverse("users:hard-delete", args=[member.pk]), {"confirm_email": "x"})
    assert "Type the user&#x27;s email address exactly to confirm." in response.content.decode()
    response = client.post(
        reverse("users:hard-delete", args=[member.pk]), {"confirm_email": "MEMBER@example.com"}
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()


def test_gdpr_export_has_profile_roles_sessions_invitations_and_events(
    client_for, admin_user, viewer
):
    response = client_for(admin_user).get(reverse("users:data_export", args=[viewer.pk]))
    data = json.loads(response.content)
    assert set(data) >= {"profile", "roles", "sessions", "invitations", "audit_events"}
    assert data["profile"]["email"] == "viewer@example.com"
    assert data["roles"][0]["slug"] == "viewer"
    assert AuditEvent.objects.filter(action="accounts.user.data_exported").exists()


def test_csv_export_streams_the_filtered_list_and_is_audited(client_for, admin_user):
    make_user("=cmd@example.com", name="=HYPERLINK(1)")
    response = client_for(admin_user).get(reverse("users:export"), {"q": "cmd"})
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,email,name")
    assert len(lines) == 2 and "'=HYPERLINK(1)" in lines[1]
    event = AuditEvent.objects.get(action="accounts.users.exported")
    assert event.changes["filters"][1]["q"] == "cmd"


def test_hard_delete_requires_recent_re_authentication(client_for, admin_user, member):
    client = client_for(admin_user)
    reauthenticate(client, minutes_ago=30)
    url = reverse("users:hard-delete", args=[member.pk])
    response = client.post(url, {"confirm_email": "member@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account:reauth") + "?next=" + quote(url, safe="")
    assert User.objects.filter(pk=member.pk).exists()
    # An HTMX dialog load is sent to the page as a whole.
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/account/reauthenticate/")
    reauthenticate(client)
    assert client.get(url).status_code == 200


def test_other_status_actions_do_not_ask_for_re_authentication(client_for, admin_user, member):
    client = client_for(admin_user)
    reauthenticate(client, minutes_ago=30)
    response = client.post(reverse("users:disable", args=[member.pk]), {"reason": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("users:detail", args=[member.pk])


def test_a_status_action_from_the_dialog_refreshes_the_header_and_status_in_place(
    client_for, admin_user, member
):
    response = client_for(admin_user).post(
        reverse("users:disable", args=[member.pk]),
        {"reason": "left the company"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {
        "handover:modal-close": "",
        "handover:user-changed": "",
    }
    body = response.content.decode()
    assert "<html" not in body
    assert '<div id="user-header" hx-swap-oob="outerHTML">' in body
    assert 'id="section-status" aria-labelledby="status-heading" hx-swap-oob="outerHTML"' in body
    assert 'id="messages" class="messages" aria-live="polite" hx-swap-oob="outerHTML"' in body
    assert "member@example.com is disabled." in body
    # The header now offers Enable instead of Disable; the history shows it.
    assert reverse("users:enable", args=[member.pk]) in body
    assert reverse("users:disable", args=[member.pk]) not in body
    assert "disabled Mona Member: left the company" in body


def test_a_status_action_without_javascript_redirects_to_the_page(client_for, admin_user, member):
    client = client_for(admin_user)
    response = client.post(reverse("users:disable", args=[member.pk]), {"reason": ""})
    assert response["Location"] == reverse("users:detail", args=[member.pk])
    page = client.get(response["Location"]).content.decode()
    assert "member@example.com is disabled." in page
    assert "hx-swap-oob" not in page


def test_a_failed_action_in_the_dialog_shows_the_reason_in_the_form(client_for, admin_user, owner):
    response = client_for(admin_user).post(
        reverse("users:disable", args=[owner.pk]), {"reason": ""}, HTTP_HX_REQUEST="true"
    )
    assert "HX-Trigger" not in response
    assert "The owner cannot be disabled." in response.content.decode()


def test_the_user_page_offers_password_tools_and_scrubbing_only_where_the_guard_allows(
    client_for, admin_user, builtin_roles
):
    """The page asks the services' own guards (policies.allows), so an admin
    is not offered tools on a peer admin that the service would refuse."""
    peer = make_user("peer@example.com", roles=["admin"])
    member = make_user("m2@example.com")
    client = client_for(admin_user)

    def page(user):
        return client.get(reverse("users:detail", args=[user.pk])).content.decode()

    assert "Password and sign-in links" in page(member)
    assert "Password and sign-in links" not in page(peer)
    User.objects.filter(pk__in=[peer.pk, member.pk]).update(deleted_at=timezone.now())
    assert "Erase personal data" in page(member)
    assert "Erase personal data" not in page(peer)


def test_a_refused_password_change_shows_the_guards_words_on_the_form(
    client_for, admin_user, builtin_roles
):
    peer = make_user("peer@example.com", roles=["admin"])
    response = client_for(admin_user).post(
        reverse("credentials:password_set", args=[peer.pk]),
        {"password1": STRONG_PASSWORD + "x", "password2": STRONG_PASSWORD + "x"},
    )
    assert response.status_code == 403
    assert "only someone with more access" in response.content.decode()
    assert 'role="alert"' in response.content.decode()


def test_the_edit_link_on_ones_own_user_page_follows_the_guard(client_for, viewer, builtin_roles):
    """A viewer (users:read, not users:update) was offered "Edit profile" on
    their own user page, a link to a page that answers 403."""
    client = client_for(viewer)
    page = client.get(reverse("users:detail", args=[viewer.pk])).content.decode()
    assert reverse("users:edit", args=[viewer.pk]) not in page
    assert client.get(reverse("users:edit", args=[viewer.pk])).status_code == 403
    Role.objects.create(
        slug="profiles", name="Profile editor", permissions=["users:read", "users:update"]
    )
    editor = make_user("ed@example.com", roles=["profiles"])
    page = client_for(editor).get(reverse("users:detail", args=[editor.pk])).content.decode()
    assert reverse("users:edit", args=[editor.pk]) in page
