"""A user's data export is an action on that user (issue 22, "reads that
know their reach"): owner protection and the hierarchy apply; the export
holds what is recorded about the subject, not what the subject did to
other people; sessions and audit events need sessions:read and audit:read.
Through the real doors: the page and the API."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import UserSession
from accounts.services.api_keys import api_key_create
from audit import services as audit
from audit.models import AuditEvent
from rbac.permissions import TEMPLATES
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _exporter(*extra):
    return make_user("exporter@example.com", direct_permissions=["users:export", *extra])


def _page(client_for, actor, subject):
    return client_for(actor).get(reverse("users:data_export", args=[subject.pk]))


def _api(client, owner, actor, subject, scopes):
    _key, raw = api_key_create(actor=owner, user=actor, name="export", scopes=scopes)
    return client.get(f"/api/admin/users/{subject.pk}/export", HTTP_AUTHORIZATION=f"Bearer {raw}")


def _denied(actor, subject):
    return AuditEvent.objects.filter(
        action="accounts.user.data_exported",
        outcome="denied",
        actor_id=actor.pk,
        target_id=str(subject.pk),
    )


def test_users_export_alone_cannot_export_the_owner_page(client_for, owner):
    exporter = _exporter()
    response = _page(client_for, exporter, owner)
    assert response.status_code == 403
    assert "The owner cannot be the subject of someone else&#x27;s data export." in (
        response.content.decode()
    )
    assert '"profile"' not in response.content.decode()
    assert _denied(exporter, owner).count() == 1
    assert not AuditEvent.objects.filter(
        action="accounts.user.data_exported", outcome="success"
    ).exists()


def test_users_export_alone_cannot_export_the_owner_api(client, owner):
    exporter = _exporter()
    response = _api(client, owner, exporter, owner, ["users:export"])
    # The API answers owner protection 409, as for every action on the owner.
    assert response.status_code == 409
    body = json.loads(response.content)
    assert body["error"] == "owner_protected"
    assert "profile" not in body
    assert _denied(exporter, owner).count() == 1


def test_a_manager_cannot_export_an_admin(client_for, admin_user):
    manager = make_user(
        "manager@example.com", direct_permissions=sorted(TEMPLATES["manager"]["permissions"])
    )
    response = _page(client_for, manager, admin_user)
    assert response.status_code == 403
    assert _denied(manager, admin_user).get().reason.startswith("hierarchy:")


def test_without_sessions_read_and_audit_read_those_sections_are_left_out(client, owner, member):
    UserSession.objects.create(session_key="s" * 32, user=member, ip="203.0.113.9")
    exporter = _exporter()
    response = _api(client, owner, exporter, member, ["users:export"])
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["profile"]["email"] == member.email
    assert body["sessions"] is None and body["audit_events"] is None
    assert body["omitted"] == {
        "sessions": "Needs the permission sessions:read.",
        "audit_events": "Needs the permission audit:read.",
    }
    assert "203.0.113.9" not in response.content.decode()
    event = AuditEvent.objects.get(action="accounts.user.data_exported", outcome="success")
    assert event.changes["omitted"] == ["audit_events", "sessions"]
    # The row names the key the export was made through (API parity).
    assert event.changes["credential"]["type"] == "api_key"


def test_with_the_read_permissions_the_sections_are_in(client, owner, member):
    UserSession.objects.create(session_key="s" * 32, user=member, ip="203.0.113.9")
    exporter = _exporter("sessions:read", "audit:read")
    response = _api(
        client, owner, exporter, member, ["users:export", "sessions:read", "audit:read"]
    )
    body = json.loads(response.content)
    assert response.status_code == 200
    assert body["omitted"] == {}
    assert [s["ip"] for s in body["sessions"]] == ["203.0.113.9"]
    assert body["audit_events"] is not None


def test_changes_the_subject_made_to_other_people_are_redacted(client_for, owner, member):
    other = make_user("bystander@example.com", name="Bystander Bea", phone="+15550100")
    audit.record(
        "accounts.user.updated",
        actor=member,
        target=other,
        reason="Bea asked for it",
        changes={"name": ["Bea", "Bystander Bea"], "phone": [None, "+15550100"]},
    )
    audit.record("accounts.profile.updated", actor=member, target=member, changes={"name": "M"})
    exporter = _exporter("sessions:read", "audit:read")
    response = _page(client_for, exporter, member)
    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("bystander@example.com", "Bystander Bea", "+15550100", "Bea asked"):
        assert secret not in text
    events = {e["action"]: e for e in json.loads(text)["audit_events"]}
    about_other = events["accounts.user.updated"]
    assert about_other["about"] == "[about someone else: redacted]"
    assert about_other["changes"] == "[about someone else: redacted]"
    assert events["accounts.profile.updated"]["changes"] == {"name": "M"}


def test_people_export_their_own_data(client_for, owner):
    response = _page(client_for, owner, owner)
    assert response.status_code == 200
    assert json.loads(response.content)["profile"]["is_owner"] is True
