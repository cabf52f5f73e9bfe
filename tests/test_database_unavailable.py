"""A database that refuses writes (read-only: a standby after a failover, a
maintenance window) or cannot be reached at all answers 503 with
Retry-After -- pages and the API alike, whether the error comes from a view
or from a middleware loading the session -- never a bare 500 (issue 28, F2
and F5). Real PostgreSQL: the session is made read-only with SET SESSION
CHARACTERISTICS; "unreachable" is a port nothing listens on."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from accounts.services.api_keys import api_key_create
from core.services import as_busy
from tests.conftest import need
from tests.scale import nodes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres():
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")


@contextmanager
def read_only():
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")


@contextmanager
def unreachable():
    """This process's database is at a port nothing listens on."""
    connection.close()
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(nodes.free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved


def _api(admin_user):
    _key, raw = api_key_create(actor=admin_user, name="ro", template="full_access")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_a_read_only_database_answers_api_writes_503_read_only(
    postgres, client, admin_user, member
):
    auth = _api(admin_user)
    with read_only():
        response = client.post(
            f"/api/admin/users/{member.pk}/disable", "{}", content_type="application/json", **auth
        )
        listed = client.get("/api/admin/users", **auth)
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "read_only"
    assert "read-only" in response.json()["detail"]
    assert response["Retry-After"] == "30"
    assert listed.status_code == 200  # reads are still served
    assert User.objects.get(pk=member.pk).is_active


def test_a_read_only_database_answers_a_page_write_503_and_pages_still_read(
    postgres, client_for, admin_user, member, settings
):
    settings.MFA_POLICY = "none"
    client = client_for(admin_user)
    client.raise_request_exception = False
    session = client.session
    session["_hv_seen"] = 0  # the next request writes "last seen" (it cannot)
    session.save()
    with read_only():
        page = client.get(f"/users/{member.pk}/")
        token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
        response = client.post(
            f"/users/{member.pk}/edit/",
            {"name": "Changed", "email": member.email, "csrfmiddlewaretoken": token},
        )
    assert page.status_code == 200
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Read-only for now" in response.content.decode()
    assert User.objects.get(pk=member.pk).name != "Changed"


def test_an_unreachable_database_answers_503_from_the_session_middleware_and_the_api(
    postgres, client_for, admin_user, settings
):
    settings.MFA_POLICY = "none"
    browser = client_for(admin_user)
    browser.raise_request_exception = False
    api = Client(raise_request_exception=False)
    auth = _api(admin_user)
    with unreachable():
        started = time.monotonic()
        page = browser.get("/users/")  # the session cannot even be loaded
        listed = api.get("/api/admin/users", **auth)
        elapsed = time.monotonic() - started
    assert page.status_code == 503, page.content[:300]
    assert page["Retry-After"] == "5"
    assert "Database unavailable" in page.content.decode()
    assert "_session_cache" not in page.content.decode()
    assert listed.status_code == 503
    assert listed.json()["error"] == "unavailable"
    assert listed["Retry-After"] == "5"
    assert elapsed < 5
    # And back: the same browser is served again.
    assert browser.get("/users/").status_code == 200


def test_what_counts_as_database_unavailable():
    from django.db import DatabaseError, InterfaceError, OperationalError

    assert as_busy(OperationalError("connection refused")).code == "unavailable"
    assert as_busy(InterfaceError("connection already closed")).code == "unavailable"
    assert as_busy(DatabaseError("syntax error")) is None
    assert as_busy(ValueError("x")) is None
