"""Webhook endpoints through the API, and deliveries made by real services
and sent (eager tasks) to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from audit.models import AuditEvent
from tests.conftest import make_user
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.services import deliveries

API = "/api/admin/webhooks"


@pytest.fixture
def owner_key(owner, key_for):
    return key_for(owner)


def create(call, headers, url, **body):
    return call("POST", API, headers, {"url": url, **body})


def test_create_answers_the_secret_once_and_never_again(call, owner_key, receiver, local_webhooks):
    status, data, _ = create(call, owner_key, receiver.url, description="CRM")
    assert status == 201, data
    secret = data["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert data["events"] == ["*"]

    status, listed, _ = call("GET", API, owner_key)
    assert status == 200
    assert "secret" not in listed[0]
    status, one, _ = call("GET", f"{API}/{data['id']}", owner_key)
    assert "secret" not in one
    stored = WebhookEndpoint.objects.get(pk=data["id"])
    assert secret not in stored.secret  # sealed at rest
    assert not AuditEvent.objects.filter(changes__icontains=secret[6:20]).exists()
    assert AuditEvent.objects.filter(action="webhooks.endpoint.created").count() == 1


def test_webhooks_manage_is_needed_to_add_an_endpoint(
    call, owner, key_for, receiver, local_webhooks
):
    headers = key_for(owner, scopes=["users:read"])
    status, data, _ = create(call, headers, receiver.url)
    assert status == 403
    assert data == {
        "error": "permission_denied",
        "detail": "You need the permission webhooks:manage to do this.",
    }
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="webhooks.endpoint.created", outcome="denied").exists()


def test_webhooks_read_is_needed_to_list_endpoints(call, owner, key_for):
    headers = key_for(owner, scopes=["users:read"])
    status, data, _ = call("GET", API, headers)
    assert status == 403
    assert "webhooks:read" in data["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",  # a name that resolves to a loopback address
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(call, owner_key, settings, url):
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    status, data, _ = create(call, owner_key, url)
    assert status == 400, data
    assert data["error"] == "unsafe_url"
    assert not WebhookEndpoint.objects.exists()


def test_a_name_resolving_to_a_private_address_is_refused_when_delivering(
    call, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    """Allowed when the endpoint was added, refused at delivery time: the
    check runs after resolution on every attempt, and nothing is sent."""
    url = receiver.url.replace("127.0.0.1", "localhost")
    status, data, _ = create(call, owner_key, url)
    assert status == 201
    local_webhooks.WEBHOOKS_ALLOW_PRIVATE = False
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"{API}/{data['id']}/test", owner_key)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert "resolves to" in delivery.last_error
    assert receiver.got() == []


def test_https_is_required_outside_development(call, owner_key, settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    status, data, _ = create(call, owner_key, "http://hooks.example.com/in")
    assert status == 400
    assert data["detail"] == "The URL must use https."


def test_a_ban_through_the_api_is_delivered_signed_with_the_user_as_the_api_returns_it(
    call, owner, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    _, made, _ = create(call, owner_key, receiver.url, events=["accounts.user.banned"])
    target = make_user("target@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        status, _, _ = call(
            "POST", f"/api/admin/users/{target.pk}/ban", owner_key, {"reason": "spam"}
        )
    assert status == 200
    [got] = receiver.got()
    payload = Webhook(made["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "accounts.user.banned"
    _, user_json, _ = call("GET", f"/api/admin/users/{target.pk}", owner_key)
    assert {k: payload["data"][k] for k in user_json} == user_json
    assert not {"password", "token", "secret"} & set(payload["data"])
    event = AuditEvent.objects.get(action="accounts.user.banned")
    assert payload["audit"] == {"event_id": event.pk, "hash": event.hash}
    assert payload["sequence"] == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(got.body, got.headers)


def test_a_refused_or_rolled_back_change_sends_nothing(
    call,
    owner,
    owner_key,
    admin_user,
    key_for,
    receiver,
    local_webhooks,
    django_capture_on_commit_callbacks,
):
    create(call, owner_key, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        # An admin may not ban the owner: refused, audited as denied, not sent.
        call("POST", f"/api/admin/users/{owner.pk}/ban", key_for(admin_user), {"reason": "x"})
        try:
            with transaction.atomic():
                from accounts.services.users import user_ban

                user_ban(actor=owner, user=admin_user, reason="x")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert receiver.got() == []
    assert not WebhookDelivery.objects.exists()


def test_during_a_rotation_both_secrets_sign(
    call, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    _, made, _ = create(call, owner_key, receiver.url)
    status, rotated, _ = call("POST", f"{API}/{made['id']}/rotate-secret", owner_key)
    assert status == 200 and rotated["rotating"] is True
    assert rotated["secret"] != made["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"{API}/{made['id']}/test", owner_key)
    [got] = receiver.got()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (made["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"


def check_order(last_sequence: int, payload: dict) -> str:
    """The README's receiver-side lines."""
    sequence = payload["sequence"]
    if sequence <= last_sequence:
        return "duplicate or reordered"
    if sequence != last_sequence + 1:
        return f"gap: {sequence - last_sequence - 1} missing"
    return "ok"


def test_the_sequence_lets_a_receiver_detect_a_dropped_delivery(
    call, owner, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    _, made, _ = create(call, owner_key, receiver.url)
    users = [make_user(f"u{i}@example.com") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for user in users:
            status, answer, _ = call("POST", f"/api/admin/users/{user.pk}/disable", owner_key, {})
            assert status == 200, answer
    payloads = [Webhook(made["secret"]).verify(r.body, r.headers) for r in receiver.got()]
    assert [p["sequence"] for p in payloads] == [1, 2, 3]
    ids = [p["audit"]["event_id"] for p in payloads]
    assert ids == sorted(ids)
    # Every delivery arrives in order: no gap.
    assert [check_order(n, p) for n, p in enumerate(payloads)] == ["ok"] * 3
    # The second is lost on the way: the receiver sees the gap on the third,
    # and the replay (same webhook-id) fills it.
    assert check_order(payloads[0]["sequence"], payloads[2]) == "gap: 1 missing"
    lost = WebhookDelivery.objects.get(sequence=2)
    with django_capture_on_commit_callbacks(execute=True):
        status, _, _ = call("POST", f"{API}/{made['id']}/deliveries/{lost.pk}/replay", owner_key)
    assert status == 202
    replayed = receiver.got()[-1]
    assert replayed.webhook_id == lost.webhook_id
    assert json.loads(replayed.body)["sequence"] == 2


def test_an_endpoint_failing_repeatedly_is_disabled_and_its_owner_told(
    call, owner, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    local_webhooks.WEBHOOKS_RETRY_SCHEDULE = []  # each delivery fails for good at once
    local_webhooks.WEBHOOKS_DISABLE_AFTER = 2
    receiver.status = 500
    _, made, _ = create(call, owner_key, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"{API}/{made['id']}/test", owner_key)
        call("POST", f"{API}/{made['id']}/test", owner_key)
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Disabled after 2 deliveries in a row failed."
    first = WebhookDelivery.objects.order_by("id").first()
    assert (first.response_code, first.response_excerpt) == (500, "receiver says no")
    assert AuditEvent.objects.filter(action="webhooks.endpoint.disabled").exists()
    from accounts.models import OutboundEmail

    notice = OutboundEmail.objects.get(template="webhook_disabled")
    assert notice.to == owner.email
    # Disabled: a further change sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"/api/admin/users/{make_user('x@example.com').pk}/disable", owner_key, {})
    assert len(receiver.got()) == 2


def test_only_wanted_event_types_are_sent_and_unknown_ones_refused(
    call, owner_key, receiver, local_webhooks
):
    status, data, _ = create(call, owner_key, receiver.url, events=["accounts.user.nope"])
    assert status == 400 and data["error"] == "unknown_event_type"
    _, made, _ = create(call, owner_key, receiver.url, events=["accounts.user.banned"])
    target = make_user("t@example.com")
    call("POST", f"/api/admin/users/{target.pk}/disable", owner_key, {})
    assert not WebhookDelivery.objects.exists()


def test_the_delivery_log_shows_status_code_duration_and_attempts(
    call, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    _, made, _ = create(call, owner_key, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"{API}/{made['id']}/test", owner_key)
    status, log, _ = call("GET", f"{API}/{made['id']}/deliveries", owner_key)
    assert status == 200
    [row] = log
    assert row["status"] == "delivered"
    assert row["response_code"] == 204
    assert row["attempts"] == 1
    assert row["duration_ms"] is not None
    assert row["webhook_id"].startswith("msg_")


def test_a_redelivered_task_never_sends_a_delivered_row_twice(
    call, owner_key, receiver, local_webhooks, django_capture_on_commit_callbacks
):
    _, made, _ = create(call, owner_key, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        call("POST", f"{API}/{made['id']}/test", owner_key)
    delivery = WebhookDelivery.objects.get()
    assert deliveries.delivery_deliver(delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(receiver.got()) == 1
