"""A batch's webhook payloads: the users its events are about are read
together (a thousand bans read five times per user before), and each
payload is what the one-event path gives -- roles, organizations,
permissions and the sign-in lock-out included."""

from __future__ import annotations

import json

from accounts.services.batch import batch_run
from audit.models import AuditEvent
from rbac.models import Membership, Organization, Role, UserRole
from tests.conftest import lock_out, make_user
from webhooks.models import WebhookDelivery
from webhooks.payloads import event_data, events_data
from webhooks.services.endpoints import endpoint_create


def test_a_batchs_payloads_are_read_together_and_match_the_single_path(
    owner, local_webhooks, django_assert_max_num_queries
):
    endpoint, _ = endpoint_create(actor=owner, url="http://127.0.0.1:9/hook")
    acme = Organization.objects.create(slug="acme", name="Acme")
    people = [make_user(f"p{i}@example.com", name=f"P {i}") for i in range(6)]
    Membership.objects.create(user=people[0], organization=acme)
    UserRole.objects.create(user=people[0], role=Role.objects.get(slug="viewer"), organization=acme)
    UserRole.objects.create(user=people[1], role=Role.objects.get(slug="viewer"))
    lock_out(people[2].email)

    result = batch_run(actor=owner, action="ban", user_ids=[p.pk for p in people])

    assert result["processed"] == 6
    events = list(
        AuditEvent.objects.filter(batch_id=result["batch_id"], action="accounts.user.banned")
    )
    assert len(events) == 6
    with django_assert_max_num_queries(7):
        together = events_data(events)
    assert together == {e.pk: event_data(e) for e in events}
    sent = {
        d.audit_event_id: json.loads(d.payload)["data"]
        for d in WebhookDelivery.objects.filter(
            endpoint=endpoint, audit_event_id__in=[e.pk for e in events]
        )
    }
    assert sent == together
    by_email = {data["email"]: data for data in together.values()}
    assert by_email["p0@example.com"]["organizations"] == [{"slug": "acme", "roles": ["viewer"]}]
    assert by_email["p1@example.com"]["roles"] == ["viewer"]
    assert by_email["p2@example.com"]["locked_until"] is not None
    assert {data["status"] for data in together.values()} == {"banned"}
