"""Stored deliveries: removed after their retention by beat's task, and
scrubbed of a user's personal data when the audit log is
(`manage.py audit_scrub_user`)."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.services.users import user_delete
from audit import services as audit
from audit.models import AuditEvent
from rbac.models import Organization
from rbac.services import member_add
from tests.conftest import make_user
from webhooks import tasks
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services.endpoints import delivery_replay, endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner, receiver, local_webhooks):
    made, secret = endpoint_create(actor=owner, url=receiver.url)
    return made, secret


def test_deliveries_past_their_retention_are_pruned_by_beat_except_each_endpoints_latest(
    owner, endpoint, settings, django_capture_on_commit_callbacks
):
    made, _ = endpoint
    settings.WEBHOOKS_RETENTION_DAYS = 30
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            audit.record("accounts.user.updated", actor=owner, target=owner)
    rows = list(WebhookDelivery.objects.order_by("sequence"))
    assert [r.status for r in rows] == [DeliveryStatus.DELIVERED] * 5
    old = timezone.now() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=old)
    WebhookDelivery.objects.filter(pk=rows[1].pk).update(status=DeliveryStatus.FAILED)
    WebhookDelivery.objects.filter(pk=rows[2].pk).update(status=DeliveryStatus.PENDING)

    assert "webhooks.tasks.webhook_prune" in {
        e["task"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert tasks.webhook_prune() == 3  # delivered, failed; not pending, not the latest

    left = WebhookDelivery.objects.order_by("sequence")
    assert [r.sequence for r in left] == [3, 5]
    pruned = AuditEvent.objects.get(action="webhooks.deliveries.pruned")
    assert pruned.changes["removed"] == 3 and pruned.actor_label == "system"
    # The next delivery follows the latest kept: a receiver sees no step back.
    with django_capture_on_commit_callbacks(execute=True):
        audit.record("accounts.user.updated", actor=owner, target=owner)
    assert WebhookDelivery.objects.order_by("-sequence").first().sequence == 6
    assert tasks.webhook_prune() == 1  # 5 is no longer the latest
    assert [r.sequence for r in WebhookDelivery.objects.order_by("sequence")] == [3, 6]
    assert tasks.webhook_prune() == 0


def test_retention_zero_keeps_every_delivery(owner, endpoint, settings):
    settings.WEBHOOKS_RETENTION_DAYS = 0
    audit.record("accounts.user.updated", actor=owner, target=owner)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(days=3650))
    assert tasks.webhook_prune() == 0
    assert WebhookDelivery.objects.count() == 1


def test_scrubbing_a_deleted_user_scrubs_the_stored_payloads_and_a_replay_sends_the_scrubbed_body(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    made, secret = endpoint
    member = make_user("mona.member@example.com", name="Mona Member", phone="+15550100")
    bystander = make_user("bystander@example.com", name="Bea Bystander")
    org = Organization.objects.create(slug="acme", name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        audit.record("accounts.user.updated", actor=owner, target=member)
        member_add(actor=owner, organization=org, user=member)
        audit.record("accounts.user.updated", actor=owner, target=bystander)
        user_delete(actor=owner, user=member, reason="asked to leave")
    about_member = [d for d in WebhookDelivery.objects.all() if str(member.pk) in d.payload]
    assert len(about_member) == 3
    assert all("mona.member@example.com" in d.payload for d in about_member)

    out = StringIO()
    call_command(
        "audit_scrub_user", "--user-id", str(member.pk), "--actor", owner.email, stdout=out
    )
    assert "Scrubbed personal data" in out.getvalue()

    for delivery in WebhookDelivery.objects.all():
        body = json.loads(delivery.payload)  # still the JSON it was
        for personal in ("mona.member@example.com", "Mona Member", "+15550100"):
            assert personal not in delivery.payload, delivery.event_type
        if str(member.pk) in delivery.payload:
            user = body["data"]["user"] if body["data"]["object"] == "membership" else body["data"]
            assert user["email"] == "[scrubbed]" and user["name"] == "[scrubbed]"
    bystanders = [d for d in WebhookDelivery.objects.all() if str(bystander.pk) in d.payload]
    assert "bystander@example.com" in bystanders[0].payload  # others untouched
    assert audit.verify_chain().ok

    receiver.requests.clear()
    first = WebhookDelivery.objects.order_by("sequence").first()
    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(actor=owner, endpoint=made, delivery_id=first.pk)
    [again] = receiver.got()
    payload = Webhook(secret).verify(again.body, again.headers)
    assert payload["data"]["email"] == "[scrubbed]"
    assert again.webhook_id == first.webhook_id
