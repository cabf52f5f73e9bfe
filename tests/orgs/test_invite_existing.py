"""An invitation into an organization for an address that already has an
account (issue 24): accepting it adds the membership and the roles there,
and nothing else. The account's name, password, factors, global roles and
direct permissions never change through an invitation link -- the seam a
re-invite came through in the previous round. Only the invited account,
signed in, can accept."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Invitation
from accounts.services import invitations as invitation_services
from accounts.services.invitation_join import invitation_join
from audit.models import AuditEvent
from rbac.actor import Actor
from rbac.models import Membership, Role, UserRole
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = STRONG_PASSWORD + "-attacker"


def _account_state(user):
    user.refresh_from_db()
    return {
        "name": user.name,
        "password": user.password,
        "email_verified_at": user.email_verified_at,
        "direct_permissions": list(user.direct_permissions or []),
        "global_roles": sorted(
            UserRole.objects.filter(user=user, organization__isnull=True).values_list(
                "role__slug", flat=True
            )
        ),
        "devices": sorted(str(d) for d in user.totpdevice_set.all())
        if hasattr(user, "totpdevice_set")
        else [],
    }


@pytest.fixture
def invited(world):
    """The owner invites Alice (an existing account in Acme, with a global
    role and a direct grant) into Globex as a member."""
    alice = world["alice"]
    alice.direct_permissions = ["users:read"]
    alice.save(update_fields=["direct_permissions"])
    UserRole.objects.create(user=alice, role=Role.objects.get(slug="viewer"))
    before = _account_state(alice)
    invitation, link = invitation_services.invitation_create(
        actor=Actor.console(world["owner"]),
        email=alice.email,
        roles=["member"],
        organization="globex",
    )
    token = link.rstrip("/").rsplit("/", 1)[-1]
    return {"invitation": invitation, "token": token, "before": before, "alice": alice}


def test_the_link_never_sets_a_password_or_name_on_an_existing_account(world, invited, client):
    alice = invited["alice"]
    # Through the public API: the accept route refuses, nothing changes.
    response = client.post(
        "/api/auth/invitations/accept",
        data={"token": invited["token"], "name": "Mallory", "password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code in (400, 403, 409, 410)
    # Through the page, not signed in: it asks to sign in; a posted form is ignored.
    page = client.get(reverse("invite_accept", args=[invited["token"]]), follow=True)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sign in as" in text and alice.email in text
    assert 'name="password1"' not in text
    client.post(
        reverse("invite_accept", args=["continue"]),
        {"name": "Mallory", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert _account_state(alice) == invited["before"]
    assert not Membership.objects.filter(user=alice, organization=world["globex"]).exists()
    assert Invitation.objects.get(pk=invited["invitation"].pk).accepted_at is None


def test_someone_else_signed_in_cannot_accept_it(world, invited, client_for):
    bo = client_for(world["both"])
    page = bo.get(reverse("invite_accept", args=[invited["token"]]), follow=True)
    assert "This invitation is for" in page.content.decode()
    response = bo.post(reverse("invite_accept", args=["continue"]), {"password": STRONG_PASSWORD})
    assert response.status_code in (200, 403)
    assert not Membership.objects.filter(
        user=invited["alice"], organization=world["globex"]
    ).exists()
    with pytest.raises(PolicyDenied):
        invitation_join(actor=Actor.for_session(world["both"], "s"), token=invited["token"])
    assert Invitation.objects.get(pk=invited["invitation"].pk).accepted_at is None


def test_the_invited_account_signed_in_joins_and_nothing_else_changes(world, invited, client_for):
    alice = invited["alice"]
    client = client_for(alice)
    page = client.get(reverse("invite_accept", args=[invited["token"]]), follow=True)
    text = page.content.decode()
    assert "Join Globex" in text
    assert 'name="password1"' not in text
    # Her password again, not a new one.
    wrong = client.post(reverse("invite_accept", args=["continue"]), {"password": "wrong"})
    assert wrong.status_code == 400
    assert not Membership.objects.filter(user=alice, organization=world["globex"]).exists()
    response = client.post(
        reverse("invite_accept", args=["continue"]), {"password": STRONG_PASSWORD}
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=alice, organization=world["globex"]).exists()
    assert list(
        UserRole.objects.filter(user=alice, organization=world["globex"]).values_list(
            "role__slug", flat=True
        )
    ) == ["member"]
    assert _account_state(alice) == invited["before"]
    # Her membership of Acme and the roles there are untouched.
    assert Membership.objects.filter(user=alice, organization=world["acme"]).exists()
    invitation = Invitation.objects.get(pk=invited["invitation"].pk)
    assert invitation.accepted_at is not None
    event = AuditEvent.objects.get(action="accounts.invitation.accepted", outcome="success")
    assert event.organization_id == world["globex"].pk
    assert event.actor_id == alice.pk
    # The link works once.
    again = client.get(reverse("invite_accept", args=[invited["token"]]), follow=True)
    assert "already accepted" in again.content.decode()


def test_an_existing_account_is_invited_only_into_an_organization(world, client_for):
    owner = Actor.console(world["owner"])
    with pytest.raises(Exception) as exc:
        invitation_services.invitation_create(actor=owner, email=world["alice"].email)
    assert getattr(exc.value, "code", None) == "user_exists"
    # Into an organization it already belongs to: nothing to join.
    with pytest.raises(Exception) as exc:
        invitation_services.invitation_create(
            actor=owner, email=world["alice"].email, organization="acme"
        )
    assert getattr(exc.value, "code", None) == "already_member"


def test_an_invitation_that_would_escalate_is_refused_for_an_existing_account(world):
    # Gil may not invite someone who holds more than he does (the owner, a
    # global admin): the hierarchy inside Globex is asked over the account.
    with pytest.raises(PolicyDenied):
        invitation_services.invitation_create(
            actor=Actor.for_session(world["gil"], "s"),
            email=world["owner"].email,
            roles=["member"],
            organization="globex",
        )
    assert not Invitation.objects.filter(email=world["owner"].email).exists()


def test_the_api_invites_an_existing_account_into_an_organization(world, call):
    from accounts.services.api_keys import api_key_create

    _key, raw = api_key_create(actor=world["owner"], name="t", template="full_access")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    status, body, _ = call(
        "POST",
        "/api/admin/invitations",
        headers,
        {"email": world["alice"].email, "roles": ["member"], "organization": "globex"},
    )
    assert status == 201, body
    status, body, _ = call(
        "POST", "/api/admin/invitations", headers, {"email": world["alice"].email}
    )
    assert status == 409 and body["error"] == "user_exists"


def test_an_organization_admin_invites_an_account_in_no_organization_and_it_joins(
    world, client_for, mailoutbox, django_capture_on_commit_callbacks
):
    loner = world["loner"]
    before = _account_state(loner)
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, link = invitation_services.invitation_create(
            actor=Actor.for_session(world["gil"], "s"),
            email=loner.email,
            name="Someone Else",
            roles=["member"],
            organization="globex",
        )
    # The email asks an existing account to sign in and join, not to
    # choose a password.
    body = "\n".join(m.body for m in mailoutbox)
    assert "join Globex" in body and "choose your password" not in body
    token = link.rstrip("/").rsplit("/", 1)[-1]
    client = client_for(loner)
    client.get(reverse("invite_accept", args=[token]))
    response = client.post(
        reverse("invite_accept", args=["continue"]), {"password": STRONG_PASSWORD}
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=loner, organization=world["globex"]).exists()
    assert _account_state(loner) == before  # the invitation's name was not applied


def test_the_public_api_says_an_existing_accounts_invitation_is_accepted_signed_in(
    world, invited, client
):
    """The API does not accept it (the invitee's own act: their sign-in,
    second factor included, on the page), and says so with its own code,
    not a misleading "cannot be activated"."""
    before = invited["before"]
    response = client.post(
        "/api/auth/invitations/accept",
        data={"token": invited["token"], "name": "Alice", "password": STRONG_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "invitation_for_existing_account"
    assert "Globex" in body["detail"]
    assert "sign in" in body["detail"].lower()
    assert _account_state(invited["alice"]) == before
    assert not Membership.objects.filter(
        user=invited["alice"], organization=world["globex"]
    ).exists()
    invited["invitation"].refresh_from_db()
    assert invited["invitation"].status == "pending"  # still usable on the page


def test_an_unknown_token_still_says_nothing_about_accounts(client):
    response = client.post(
        "/api/auth/invitations/accept",
        data={"token": "x" * 43, "name": "Alice", "password": STRONG_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_invitation"
