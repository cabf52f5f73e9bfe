"""`/healthz` tells anyone whether the service is up, and only operators
(those Django admin lets in: a management permission and an OTP-verified
session) what it runs on: no database path, host or version to strangers."""

from __future__ import annotations

import json

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _health(client):
    response = client.get("/healthz")
    return response, json.loads(response.content)


def _assert_no_details(response, body):
    assert body == {
        "status": "ok",
        "degraded": [],
        "database": {"ok": True},
        "broker": {"ok": True},
    }
    text = response.content.decode()
    assert str(connection.settings_dict["NAME"]) not in text
    assert connection.vendor not in text and "redis" not in text


def test_anonymous_callers_see_the_status_without_paths_or_versions(client):
    response, body = _health(client)
    assert response.status_code == 200
    _assert_no_details(response, body)


def test_a_signed_in_user_without_a_management_permission_sees_no_details(client_for, member):
    _assert_no_details(*_health(client_for(member)))


def test_an_operator_without_a_verified_session_sees_no_details(client_for, admin_user, settings):
    settings.MFA_POLICY = "none"
    _assert_no_details(*_health(client_for(admin_user, verified=False)))


def test_a_verified_operator_sees_the_details(client_for, admin_user):
    response, body = _health(client_for(admin_user))
    assert body["status"] == "ok"
    assert body["database"]["vendor"] == connection.vendor
    assert body["database"]["name"] == str(connection.settings_dict["NAME"])
    assert body["broker"]["ok"] is True and "kind" in body["broker"]


def test_an_outage_is_reported_to_anyone_without_its_details(client, settings):
    """Without Redis the site still serves (degraded, 200: a balancer keeps
    the node); strangers learn which part is down, not its address."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response, body = _health(client)
    assert response.status_code == 200
    assert body == {
        "status": "degraded",
        "degraded": ["broker-unreachable", "cache-unreachable"],
        "database": {"ok": True},
        "broker": {"ok": False},
    }
    assert "127.0.0.1:1" not in response.content.decode()


@pytest.fixture
def postgres():
    from tests.conftest import need

    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")


@pytest.mark.django_db(transaction=True)
def test_a_read_only_database_is_reported_503(client, postgres):
    """After a failover or in a maintenance window the database refuses
    writes: the node cannot do its work (issue 28, F2)."""
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        response, body = _health(client)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["degraded"][0] == "database-read-only"
    assert body["database"] == {"ok": False}
    assert _health(client)[0].status_code == 200


def test_a_half_open_database_is_reported_within_the_budget(client, postgres, settings):
    """A database that accepts connections and never answers (issue 28,
    F1): /healthz says so within HEALTH_CHECK_BUDGET_SECONDS, every time."""
    import time

    from tests.faults import TcpProxy

    s = connection.settings_dict
    proxy = TcpProxy(s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)).start()
    proxy.pause()
    saved = s["PORT"]
    s["PORT"] = str(proxy.port)  # the probe threads connect through the proxy
    timings = []
    try:
        for _ in range(3):
            started = time.monotonic()
            response, body = _health(client)
            timings.append(round(time.monotonic() - started, 2))
            assert response.status_code == 503
            assert body["degraded"][0] == "database-unreachable"
    finally:
        s["PORT"] = saved
        proxy.stop()
    print(f"FIGURE health, half-open database: {timings} s")
    assert max(timings) < 1
