"""Prepared statements on PostgreSQL (issue 29): inside a service,
parameters are bound by the server and a statement run
DATABASE_PREPARE_THRESHOLD times on the connection is prepared, so its
plan can be reused; a page's search and filters never are (their best
plan depends on the text searched), and pages bind in the client."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from accounts.models import User
from accounts.services.users import user_ban, user_unban
from core.services import service
from handover.postgresql.base import MAX_BOUND_PARAMETERS
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _prepared() -> list[str]:
    """The statements prepared on this connection (PostgreSQL's view)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_services_repeated_statements_are_prepared(require_postgres, owner):
    target = make_user("prepared@example.com")
    for _ in range(3):  # the ban's and the unban's updates three times each
        user_ban(actor=owner, user=target, reason="spam")
        user_unban(actor=owner, user=target)
    updates = [s for s in _prepared() if s.startswith('UPDATE "accounts_user"')]
    assert updates == []  # under the threshold (5)
    for _ in range(3):
        user_ban(actor=owner, user=target, reason="spam")
        user_unban(actor=owner, user=target)
    statements = _prepared()
    updates = [s for s in statements if s.startswith('UPDATE "accounts_user"')]
    assert updates, statements
    assert all("$1" in s for s in updates)  # the values bound by the server
    assert any(s.startswith('INSERT INTO "audit_auditevent"') for s in statements)
    assert connection.connection.prepare_threshold is None  # only while a service runs


def test_a_pages_search_is_never_prepared(require_postgres, owner, client_for):
    make_user("ada.lovelace@example.com", name="Ada Lovelace")
    client = client_for(owner)
    for _ in range(8):
        response = client.get("/users/", {"q": "lovelace", "status": "active"})
        assert response.status_code == 200
        assert b"ada.lovelace@example.com" in response.content
    assert [s for s in _prepared() if "LIKE" in s or '"accounts_user"' in s] == []


def test_no_statement_is_prepared_when_the_threshold_is_zero(require_postgres, owner, settings):
    settings.DATABASE_PREPARE_THRESHOLD = 0
    target = make_user("unprepared@example.com")
    for _ in range(6):
        user_ban(actor=owner, user=target, reason="spam")
        user_unban(actor=owner, user=target)
    assert _prepared() == []


def test_a_nested_service_keeps_the_outer_ones_setting(require_postgres):
    seen = []

    @service
    def inner():
        seen.append(("inner", connection.connection.prepare_threshold))

    @service
    def outer():
        inner()
        seen.append(("outer, after inner", connection.connection.prepare_threshold))

    outer()
    assert seen == [("inner", 5), ("outer, after inner", 5)]
    assert connection.connection.prepare_threshold is None


def test_only_a_service_binds_on_the_server(require_postgres):
    seen = []

    @service
    def read():
        with connection.cursor() as cursor:
            seen.append(type(cursor.cursor).__name__)

    read()
    with connection.cursor() as cursor:
        seen.append(type(cursor.cursor).__name__)
    assert seen == ["_BoundByTheServer", "Cursor"]  # the second: Django's client binding


def test_a_statement_with_more_parameters_than_the_protocol_carries_still_runs(
    require_postgres,
):
    target = make_user("many@example.com")
    ids = [target.pk, *(uuid.UUID(int=n) for n in range(MAX_BOUND_PARAMETERS))]  # 65,536

    @service
    def count():
        return User.objects.filter(pk__in=ids).count()

    assert count() == 1
