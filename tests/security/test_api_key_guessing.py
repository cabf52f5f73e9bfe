"""Guessing API keys (ASVS 5.0 6.1.1, 6.3.1): a burst of random keys from
one address is counted, answered 429 once the address's budget is spent
(before any key is looked up), and leaves one audit event, not one per
request."""

from __future__ import annotations

import secrets
import time

import pytest

from accounts.services.api_keys import api_key_create
from accounts.services.throttling import API_KEY_REFUSED
from audit.models import AuditEvent
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

BURST = 600
GUESSER = "203.0.113.66"


def test_a_burst_of_600_wrong_keys_leaves_one_audit_event_and_then_429s(
    client, admin_user, settings
):
    _key, raw = api_key_create(actor=admin_user, name="integration", template="full_access")
    valid = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    budget = settings.API_KEY_FAILURES_PER_ADDRESS
    statuses = []
    started = time.perf_counter()
    for _ in range(BURST):
        response = client.get(
            "/api/admin/users",
            HTTP_AUTHORIZATION=f"Bearer hv_{secrets.token_urlsafe(32)}",
            REMOTE_ADDR=GUESSER,
        )
        statuses.append(response.status_code)
    elapsed = time.perf_counter() - started

    first_429 = statuses.index(429) + 1
    assert statuses[:budget] == [401] * budget
    assert statuses[budget:] == [429] * (BURST - budget)
    assert first_429 == budget + 1
    refused = client.get("/api/admin/users", HTTP_AUTHORIZATION="Bearer hv_x", REMOTE_ADDR=GUESSER)
    assert refused.json() == {"error": "rate_limited", "detail": API_KEY_REFUSED}

    events = AuditEvent.objects.filter(action="accounts.api_key.rejected")
    assert events.count() == 1
    event = events.get()
    assert (event.ip, event.outcome, event.target_id) == (GUESSER, "failed", GUESSER)

    # The spent address is refused even with a valid key (nothing is looked
    # up); the key still works from elsewhere.
    assert client.get("/api/admin/users", REMOTE_ADDR=GUESSER, **valid).status_code == 429
    assert client.get("/api/admin/users", REMOTE_ADDR="192.0.2.5", **valid).status_code == 200
    figure(
        "api-key-guessing[600 keys, one address]",
        budget_per_address=budget,
        window_s=settings.API_KEY_FAILURE_WINDOW,
        first_429_at=first_429,
        refused_429=statuses.count(429),
        audit_events=events.count(),
        seconds=f"{elapsed:.2f}",
    )


def test_wrong_keys_from_another_address_are_their_own_burst(client, owner, settings):
    settings.API_KEY_FAILURES_PER_ADDRESS = 3
    for ip in ("198.51.100.1", "198.51.100.2"):
        statuses = [
            client.get(
                "/api/admin/users", HTTP_AUTHORIZATION="Bearer hv_nope", REMOTE_ADDR=ip
            ).status_code
            for _ in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
    assert AuditEvent.objects.filter(action="accounts.api_key.rejected").count() == 2
