"""The /webhooks/ pages: add an endpoint (secret shown once), send a test
event, read the delivery log, replay; who may see and do what."""

from __future__ import annotations

import re

from standardwebhooks.webhooks import Webhook

from audit.models import AuditEvent
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def test_an_owner_adds_an_endpoint_sends_a_test_event_and_reads_the_log(
    client_for, owner, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    response = client.post("/webhooks/", {"url": receiver.url, "description": "CRM"})
    assert response.status_code == 200
    secret = re.search(r'value="(whsec_[^"]+)"', response.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get()
    detail = client.get(f"/webhooks/{endpoint.pk}/")
    assert secret not in detail.content.decode()
    assert "Send test event" in detail.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 302
    [got] = receiver.got()
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    log = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "Delivered" in log and got.webhook_id in log and "204" in log

    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    assert receiver.ids() == [delivery.webhook_id] * 2
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    assert AuditEvent.objects.filter(action="webhooks.delivery.replayed").exists()


def test_an_unsafe_url_is_a_field_error_on_the_page(client_for, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    response = client_for(owner).post("/webhooks/", {"url": "http://169.254.169.254/"})
    assert response.status_code == 400
    assert "private, loopback or link-local" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_viewer_cannot_open_the_webhooks_page(client_for, viewer):
    assert client_for(viewer).get("/webhooks/").status_code == 403


def test_a_reader_sees_the_log_but_no_buttons_and_cannot_post(
    client_for, owner, member, receiver, local_webhooks
):
    from rbac.services.assignments import user_permissions_update
    from webhooks.services.endpoints import endpoint_create

    user_permissions_update(actor=owner, user=member, grant=["webhooks:read"])
    endpoint, _ = endpoint_create(actor=owner, url=receiver.url)
    client = client_for(member)
    page = client.get(f"/webhooks/{endpoint.pk}/")
    assert page.status_code == 200
    assert "Send test event" not in page.content.decode()
    assert client.post(f"/webhooks/{endpoint.pk}/test/").status_code == 403
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
