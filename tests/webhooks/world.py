"""One object of each kind the webhook catalogue's events are about."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Invitation
from audit import services as audit
from rbac.models import Membership, Organization, Role
from tests.conftest import make_user
from webhooks.catalogue import EVENT_TYPES, MEMBERSHIP_EVENTS


def catalogue_world(owner):
    """One object of each kind the catalogue's events are about, and
    `record_each()`: one audit event of every catalogue type about the
    right one, through the audit layer every action writes through."""
    user = make_user("subject@example.com", name="Sub Ject")
    invitation = Invitation.objects.create(
        email="invitee@example.com",
        invited_by=owner,
        token_hash="x" * 64,
        expires_at=timezone.now() + timedelta(days=7),
    )
    role = Role.objects.get(slug="viewer")
    org = Organization.objects.create(slug="acme", name="Acme")
    Membership.objects.create(user=user, organization=org)
    role_events = {"rbac.role.created", "rbac.role.updated", "rbac.role.deleted"}

    def record_each():
        for event_type in EVENT_TYPES:
            changes = {}
            if event_type.startswith("accounts.invitation."):
                target = invitation
            elif event_type in role_events:
                target = role
            elif event_type.startswith("rbac.organization."):
                target = org
            else:
                target = user
            if event_type in MEMBERSHIP_EVENTS:
                changes = {"organization": [None, org.slug], "roles": [[], ["viewer"]]}
            audit.record(event_type, actor=owner, target=target, changes=changes)

    return user, org, record_each
