"""Invitations: create (guards, refusals, expiry), resend, revoke, accept,
the import report and the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Invitation, OutboundEmail, User
from accounts.services import invitation_import
from accounts.services import invitations as services
from accounts.services.emails import email_deliver
from audit.models import AuditEvent
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD, make_user


def token_of(link: str) -> str:
    return re.search(r"/invite/([^/]+)/", link).group(1)


@pytest.mark.django_db
def test_invitation_creates_a_pending_user_and_queues_the_email(admin_user):
    invitation, link = services.invitation_create(
        actor=admin_user, email=" Ana@Example.com ", name="Ana", roles=["editor"]
    )
    assert invitation.email == "ana@example.com"
    assert invitation.status == "pending"
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert [r.slug for r in invitation.roles.all()] == ["editor"]
    user = invitation.user
    assert user.status == "invited"
    assert not user.has_usable_password()
    assert user.permissions == frozenset()  # nothing until accepted
    assert link.startswith("http://testserver/invite/")
    assert invitation.token_hash != token_of(link)
    email = OutboundEmail.objects.get(user=user, template="invitation")
    assert email.subject == "Adam Admin invited you to Handover"
    event = AuditEvent.objects.get(action="accounts.invitation.created")
    assert event.changes["roles"] == [[], ["editor"]]
    email_deliver(email.pk)
    assert link in mail.outbox[0].body


@pytest.mark.django_db
def test_invitation_expiry_is_configurable(admin_user, settings):
    settings.INVITATION_TTL = timedelta(days=2)
    invitation, _ = services.invitation_create(actor=admin_user, email="a@example.com")
    assert invitation.expires_at - invitation.created_at == timedelta(days=2)
    other, _ = services.invitation_create(
        actor=admin_user, email="b@example.com", expires_in=timedelta(hours=1)
    )
    assert other.expires_at - other.created_at == timedelta(hours=1)


@pytest.mark.django_db
def test_invite_to_an_existing_users_email_is_refused(admin_user, member):
    with pytest.raises(ValidationError) as exc:
        services.invitation_create(actor=admin_user, email="MEMBER@example.com")
    assert exc.value.messages == [
        "member@example.com already has an account. Manage it from the Users page instead."
    ]


@pytest.mark.django_db
def test_second_invite_while_one_is_pending_is_refused(admin_user):
    services.invitation_create(actor=admin_user, email="a@example.com")
    with pytest.raises(ValidationError) as exc:
        services.invitation_create(actor=admin_user, email="a@example.com")
    assert exc.value.messages == [
        "a@example.com already has a pending invitation. Resend it instead."
    ]


@pytest.mark.django_db
def test_invitation_cannot_grant_what_the_inviter_lacks(editor):
    from rbac.models import Role

    Role.objects.filter(slug="editor").update(
        permissions=["users:read", "users:update", "invitations:create", "invitations:read"]
    )
    with pytest.raises(PolicyDenied) as exc:
        services.invitation_create(actor=editor, email="x@example.com", roles=["admin"])
    # Handing out a role needs roles:assign, as when creating a user.
    assert exc.value.code == "permission_denied"
    assert exc.value.message == "You need the permission roles:assign to do this."
    Role.objects.filter(slug="editor").update(
        permissions=["users:read", "roles:assign", "invitations:create", "invitations:read"]
    )
    editor = User.objects.get(pk=editor.pk)
    with pytest.raises(PolicyDenied) as exc:
        services.invitation_create(actor=editor, email="x@example.com", roles=["admin"])
    assert exc.value.code == "escalation"
    assert exc.value.message.startswith("You cannot grant permissions you do not hold: ")
    assert "users:ban" in exc.value.message
    assert not User.objects.filter(email="x@example.com").exists()
    assert AuditEvent.objects.filter(
        action="accounts.invitation.created", outcome="denied"
    ).exists()


@pytest.mark.django_db
def test_inviting_needs_invitations_create(viewer):
    with pytest.raises(PolicyDenied, match="You need the permission invitations:create"):
        services.invitation_create(actor=viewer, email="x@example.com")


@pytest.mark.django_db
def test_invalid_email_is_refused_clearly(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.invitation_create(actor=admin_user, email="not-an-email")
    assert exc.value.messages == ["Enter a valid email address (not-an-email is not one)."]


@pytest.mark.django_db
def test_accepting_sets_the_password_and_grants_exactly_the_invited_roles(admin_user):
    invitation, link = services.invitation_create(
        actor=admin_user, email="ana@example.com", roles=["editor", "viewer"], template="viewer"
    )
    user = services.invitation_accept(
        token=token_of(link), name="Ana Lima", password=STRONG_PASSWORD
    )
    user.refresh_from_db()
    assert user.status == "active"
    assert user.name == "Ana Lima"
    assert user.check_password(STRONG_PASSWORD)
    assert sorted(r.slug for r in user.roles.all()) == ["editor", "viewer"]
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    assert AuditEvent.objects.filter(
        action="accounts.invitation.accepted", actor_id=user.pk
    ).exists()


@pytest.mark.django_db
def test_invitation_link_is_single_use(admin_user):
    _, link = services.invitation_create(actor=admin_user, email="ana@example.com")
    services.invitation_accept(token=token_of(link), name="Ana", password=STRONG_PASSWORD)
    with pytest.raises(services.InvitationInvalid) as exc:
        services.invitation_accept(token=token_of(link), name="Eve", password=STRONG_PASSWORD)
    assert exc.value.reason == "accepted"


@pytest.mark.django_db
def test_weak_password_is_refused_and_the_invitation_stays_usable(admin_user):
    _, link = services.invitation_create(actor=admin_user, email="ana@example.com")
    with pytest.raises(ValidationError) as exc:
        services.invitation_accept(token=token_of(link), name="Ana", password="short")
    assert (
        "This password is too short. It must contain at least 12 characters." in exc.value.messages
    )
    assert services.invitation_peek(token=token_of(link)).status == "pending"


@pytest.mark.django_db
def test_resend_kills_the_old_link(admin_user):
    invitation, old = services.invitation_create(actor=admin_user, email="ana@example.com")
    _, new = services.invitation_resend(actor=admin_user, invitation=invitation)
    assert old != new
    with pytest.raises(services.InvitationInvalid) as exc:
        services.invitation_peek(token=token_of(old))
    assert exc.value.reason == "unknown"
    assert services.invitation_peek(token=token_of(new)).pk == invitation.pk
    assert OutboundEmail.objects.filter(template="invitation").count() == 2


@pytest.mark.django_db
def test_revoked_and_expired_links_say_what_happened(admin_user):
    invitation, link = services.invitation_create(actor=admin_user, email="ana@example.com")
    services.invitation_revoke(actor=admin_user, invitation=invitation)
    with pytest.raises(services.InvitationInvalid) as exc:
        services.invitation_peek(token=token_of(link))
    assert exc.value.message == (
        "This invitation was withdrawn. Ask the person who invited you "
        "if you should still have access."
    )
    # The address can be invited again after a revoke.
    other, link2 = services.invitation_create(actor=admin_user, email="ana@example.com")
    Invitation.objects.filter(pk=other.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.InvitationInvalid) as exc:
        services.invitation_peek(token=token_of(link2))
    assert exc.value.reason == "expired"


@pytest.mark.django_db
def test_revoking_an_accepted_invitation_is_refused(admin_user):
    invitation, link = services.invitation_create(actor=admin_user, email="ana@example.com")
    services.invitation_accept(token=token_of(link), name="Ana", password=STRONG_PASSWORD)
    with pytest.raises(ValidationError, match="already accepted. Disable the user instead."):
        services.invitation_revoke(actor=admin_user, invitation=invitation)


@pytest.mark.django_db
def test_import_report_checks_every_row_before_sending(admin_user, member):
    rows = invitation_import.invitation_rows_from_csv(
        "email,name,roles\n"
        "ana@example.com,Ana,editor\n"
        "bad-address,Bob,\n"
        "member@example.com,Mona,viewer\n"
        "ana@example.com,Ana again,editor\n"
        "cy@example.com,Cy,nosuchrole;owner\n",
        roles=["viewer"],
    )
    rows = invitation_import.invitation_rows_validate(actor=admin_user, rows=rows)
    report = {(r.line, r.email): r.errors for r in rows}
    assert report[(2, "ana@example.com")] == []
    assert report[(3, "bad-address")] == ["bad-address is not a valid email address."]
    assert report[(4, "member@example.com")] == ["Already has an account."]
    assert report[(5, "ana@example.com")] == ["Listed twice; only the first line is used."]
    assert "Unknown role: nosuchrole." in report[(6, "cy@example.com")]
    assert OutboundEmail.objects.count() == 0


def test_pasted_list_splits_on_commas_spaces_and_lines():
    rows = invitation_import.invitation_rows_from_text(
        "a@x.io, b@x.io;c@x.io\n d@x.io", roles=["viewer"]
    )
    assert [r.email for r in rows] == ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]
    assert rows[0].roles == ["viewer"]


@pytest.mark.django_db
def test_invitations_page_invites_many_with_a_review_step(
    client_for, admin_user, django_capture_on_commit_callbacks
):
    client = client_for(admin_user)
    response = client.post(
        "/invitations/preview/",
        {
            "emails": "ana@example.com, bob@example.com, nope",
            "roles": ["viewer"],
            "expires_days": 7,
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 ready" in body and "1 with a problem" in body
    assert "nope is not a valid email address." in body
    assert Invitation.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/invitations/send/")
    body = response.content.decode()
    assert "2 invited" in body
    assert body.count("Copy link") == 2
    assert Invitation.objects.count() == 2
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_large_import_runs_as_a_job_with_progress(client_for, admin_user, invite_through_pages):
    client = client_for(admin_user)
    emails = " ".join(f"user{i}@example.com" for i in range(15))
    response = invite_through_pages(client, emails, expires_days=3)
    assert response.status_code == 302
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "15 invited" in body
    assert "Copy link" not in body  # links are never kept in the job's results
    invitation = Invitation.objects.first()
    assert invitation.expires_at - invitation.created_at == timedelta(days=3)


@pytest.mark.django_db
def test_invitations_list_shows_status_and_delivery(
    client_for, admin_user, django_assert_max_num_queries
):
    for i in range(5):
        services.invitation_create(actor=admin_user, email=f"p{i}@example.com", roles=["viewer"])
    inv, _ = services.invitation_create(actor=admin_user, email="gone@example.com")
    services.invitation_revoke(actor=admin_user, invitation=inv)
    client = client_for(admin_user)
    with django_assert_max_num_queries(14):
        response = client.get("/invitations/")
    body = response.content.decode().replace("<wbr>", "")  # addresses wrap at "@" and "."
    assert "p4@example.com" in body and "gone@example.com" in body
    assert "invitation-revoked" in body and "email-pending" in body
    response = client.get("/invitations/?status=revoked")
    assert "p4@example.com" not in response.content.decode()


@pytest.mark.django_db
def test_revoke_asks_for_confirmation_first(client_for, admin_user):
    inv, _ = services.invitation_create(actor=admin_user, email="ana@example.com")
    client = client_for(admin_user)
    response = client.get(f"/invitations/{inv.pk}/revoke/")
    assert "Revoke the invitation to" in response.content.decode()
    inv.refresh_from_db()
    assert inv.revoked_at is None
    client.post(f"/invitations/{inv.pk}/revoke/")
    inv.refresh_from_db()
    assert inv.revoked_at is not None


@pytest.mark.django_db
def test_accept_page_moves_the_token_to_the_session(client, admin_user):
    _, link = services.invitation_create(
        actor=admin_user, email="ana@example.com", roles=["viewer"]
    )
    path = link.replace("http://testserver", "")
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/invite/continue/"
    page = client.get("/invite/continue/")
    body = page.content.decode()
    assert token_of(link) not in body
    assert "ana@example.com" in body and "Viewer" in body
    response = client.post(
        "/invite/continue/",
        {"name": "Ana", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="ana@example.com")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert [r.slug for r in user.roles.all()] == ["viewer"]
    again = client.get(path, follow=True)
    assert "This invitation was already accepted" in again.content.decode()


@pytest.mark.django_db
def test_accept_page_shows_password_errors(client, admin_user):
    _, link = services.invitation_create(actor=admin_user, email="ana@example.com")
    client.get(link.replace("http://testserver", ""))
    response = client.post(
        "/invite/continue/", {"name": "Ana", "password1": "12345678", "password2": "12345678"}
    )
    body = response.content.decode()
    assert "This password is too short" in body
    assert not User.objects.get(email="ana@example.com").has_usable_password()


@pytest.mark.django_db
def test_unknown_invite_link_shows_a_clear_page(client):
    response = client.get("/invite/not-a-real-token/", follow=True)
    assert response.status_code == 400
    assert "This invitation link is not valid" in response.content.decode()


@pytest.mark.django_db
def test_invitations_section_fragment_lists_a_users_invitations(client_for, admin_user):
    inv, _ = services.invitation_create(actor=admin_user, email="ana@example.com")
    response = client_for(admin_user).get(f"/invitations/user/{inv.user_id}/")
    assert "Pending" in response.content.decode()


@pytest.mark.django_db
def test_accept_after_the_user_was_created_elsewhere_keeps_their_roles(admin_user):
    pending = make_user("pat@example.com", roles=["viewer"], password=None)
    _, link = services.invitation_create(
        actor=admin_user, email="pat@example.com", roles=["editor"]
    )
    user = services.invitation_accept(token=token_of(link), name="Pat", password=STRONG_PASSWORD)
    assert user.pk == pending.pk
    assert sorted(r.slug for r in user.roles.all()) == ["editor", "viewer"]
