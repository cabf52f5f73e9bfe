"""A user's own data (seed 002, "data privacy"; issue 26): "Download my
data" and "Delete my account" through the real pages -- fresh proof, a
cooling-off period the user can cancel and administrators can see, then
the same soft delete and purge as any deletion; the owner is refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from accounts import tasks
from accounts.models import User, UserSession
from accounts.services import self_deletion
from accounts.services.users import RESTORE_WINDOW
from audit.models import AuditEvent
from rbac.actor import Actor
from rbac.policies import PolicyDenied
from tests.conftest import reauthenticate

pytestmark = pytest.mark.django_db

REAL_NOW = timezone.now


@pytest.fixture
def later(monkeypatch):
    def move(days: float):
        moved = REAL_NOW() + dt.timedelta(days=days)
        monkeypatch.setattr(timezone, "now", lambda: moved)
        return moved

    return move


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- download my data ---------------------------------------------------------------


def test_download_my_data_is_everything_held_about_me_and_recorded(client_for, member, admin_user):
    client = client_for(member)
    page = client.get("/account/")
    assert "Download my data" in page.content.decode()
    response = client.get("/account/data/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["profile"]["email"] == "member@example.com"
    assert data["sessions"] and data["audit_events"] is not None
    assert data["known_devices"] == []  # signed in by the test client, not the page
    assert data["omitted"] == {}
    assert "admin@example.com" not in response.content.decode()
    [event] = events("accounts.account.data_exported")
    assert event.actor_id == member.pk and event.target_id == str(member.pk)


def test_an_api_key_cannot_download_a_person_s_data_as_them(member):
    class Key:
        pk, name, scopes = "k", "script", ["users:read"]

    with pytest.raises(PolicyDenied) as refused:
        self_deletion.account_data_export(actor=Actor.for_api_key(member, Key()))
    assert refused.value.code == "dashboard_only"


# --- delete my account ----------------------------------------------------------------


def test_deleting_my_account_needs_a_fresh_proof(client_for, member):
    client = client_for(member)
    reauthenticate(client, minutes_ago=60)
    response = client.get("/account/delete/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/reauthenticate/")
    # A POST without it is sent to the proof too, and changes nothing.
    assert client.post("/account/delete/", {"understood": "on"}).status_code == 302
    member.refresh_from_db()
    assert member.deletion_due_at is None


def test_a_request_waits_for_the_cooling_off_and_can_be_cancelled(client_for, member, settings):
    settings.SELF_DELETION_COOLING_OFF = dt.timedelta(days=7)
    client = client_for(member)
    reauthenticate(client)
    page = client.get("/account/delete/")
    assert page.status_code == 200
    assert "Delete my account in 7 days" in page.content.decode()
    unticked = client.post("/account/delete/", {})
    assert unticked.status_code == 400
    assert "Tick the box" in unticked.content.decode()

    done = client.post("/account/delete/", {"understood": "on"})
    assert done.status_code == 302
    member.refresh_from_db()
    due = member.deletion_due_at
    assert dt.timedelta(days=6, hours=23) < due - timezone.now() <= dt.timedelta(days=7)
    assert member.deleted_at is None  # nothing deleted yet
    home = client.get("/account/").content.decode()
    assert "Your account will be deleted on" in home and "Cancel the deletion" in home
    [requested] = events("accounts.account.deletion_requested")
    assert requested.actor_id == member.pk and requested.target_id == str(member.pk)

    assert client.post("/account/delete/cancel/").status_code == 302
    member.refresh_from_db()
    assert member.deletion_due_at is None
    assert len(events("accounts.account.deletion_cancelled")) == 1
    assert "Your account will be deleted on" not in client.get("/account/").content.decode()
    # Nothing left to cancel: a message, not an error page.
    again = client.post("/account/delete/cancel/", follow=True)
    assert "There is no deletion request to cancel." in again.content.decode()


def test_administrators_see_a_pending_deletion(client, client_for, member, admin_user):
    member.deletion_due_at = timezone.now() + dt.timedelta(days=7)
    member.save(update_fields=["deletion_due_at"])
    admin = client_for(admin_user)
    detail = admin.get(f"/users/{member.pk}/").content.decode()
    assert "asked for their account to be deleted" in detail
    listing = admin.get("/users/?q=member").content.decode()
    assert "Deletion due" in listing


def test_the_owner_is_refused_while_owner(client_for, owner):
    client = client_for(owner)
    reauthenticate(client)
    page = client.get("/account/delete/")
    assert page.status_code == 200
    assert "transfer the ownership to someone else" in page.content.decode()
    assert "Delete my account in" not in page.content.decode()
    refused = client.post("/account/delete/", {"understood": "on"})
    assert refused.status_code == 403
    assert "transfer the ownership" in refused.content.decode()
    owner.refresh_from_db()
    assert owner.deletion_due_at is None
    [denied] = events("accounts.account.deletion_requested")
    assert denied.outcome == "denied" and denied.actor_id == owner.pk


def test_when_the_cooling_off_ends_the_account_is_deleted_then_purged(
    client_for, member, later, settings
):
    settings.SELF_DELETION_COOLING_OFF = dt.timedelta(days=7)
    client = client_for(member)
    reauthenticate(client)
    client.post("/account/delete/", {"understood": "on"})
    later(6)
    assert tasks.users_purge_expired() == 0
    member.refresh_from_db()
    assert member.deleted_at is None

    later(7.01)
    tasks.users_purge_expired()
    member.refresh_from_db()
    assert member.deleted_at is not None and member.deletion_due_at is None
    assert not UserSession.objects.filter(user=member, ended_at__isnull=True).exists()
    [deleted] = events("accounts.user.deleted")
    assert deleted.actor_id is None and deleted.actor_label == "system"
    assert deleted.changes["self_requested"] is True
    assert client.get("/account/").status_code == 302  # signed out

    later(7.02 + RESTORE_WINDOW.days)
    assert tasks.users_purge_expired() == 1
    assert not User.objects.filter(pk=member.pk).exists()
    assert len(events("accounts.user.purged")) == 1


def test_a_cancelled_request_is_never_carried_out(client_for, member, later):
    client = client_for(member)
    reauthenticate(client)
    client.post("/account/delete/", {"understood": "on"})
    client.post("/account/delete/cancel/")
    later(60)
    tasks.users_purge_expired()
    member.refresh_from_db()
    assert member.deleted_at is None
    assert events("accounts.user.deleted") == []


def test_the_api_shows_administrators_a_pending_deletion(client, member, admin_user):
    from accounts.services.api_keys import api_key_create

    member.deletion_due_at = timezone.now() + dt.timedelta(days=7)
    member.save(update_fields=["deletion_due_at"])
    _row, key = api_key_create(actor=admin_user, name="reader", template="viewer")
    response = client.get(f"/api/admin/users/{member.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    due = dt.datetime.fromisoformat(response.json()["deletion_due_at"])
    assert abs(due - member.deletion_due_at) < dt.timedelta(milliseconds=1)  # JSON's precision
