"""The users list's search on PostgreSQL: the trigram indexes exist on the
very expressions the query filters on, have no pending list (a search
never reads an unsorted backlog of recent writes), and the search's query
uses them."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from accounts.models import User
from accounts.selectors import UserFilters, user_filter_queryset
from accounts.selectors.listing import search_q
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

TRIGRAM_INDEXES = {"accounts_user_email_trgm": "email", "accounts_user_name_trgm": "name"}


def _index(name: str) -> tuple[str, list[str] | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(c.oid), c.reloptions FROM pg_class c WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
    assert row, f"no index {name}"
    return row


def test_search_indexes_are_trigram_gin_without_a_pending_list(require_postgres):
    for name, column in TRIGRAM_INDEXES.items():
        definition, options = _index(name)
        assert "USING gin" in definition
        assert f"upper(({column})::text) gin_trgm_ops" in definition
        assert options == ["fastupdate=off"]


def test_a_search_finds_its_rows_through_both_trigram_indexes(require_postgres, owner):
    User.objects.bulk_create(
        User(email=f"user{i:03d}@example.com", name=f"Person {i}", password="!") for i in range(200)
    )
    make_user("grace@navy.example", name="Grace Hopper")
    sql, params = (
        User.objects.filter(search_q("hopp")).order_by().values("pk").query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
        # A test's few hundred rows: left alone, the planner rightly reads
        # the whole table.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for name in TRIGRAM_INDEXES:
        assert f"Bitmap Index Scan on {name}" in plan, plan
    found = user_filter_queryset(UserFilters(q="hopp"), actor=owner)
    assert [u.email for u in found] == ["grace@navy.example"]


@pytest.mark.django_db(transaction=True)
def test_the_rebuild_leaves_the_planner_statistics_for_both_expressions(require_postgres):
    """Migration 0013 rebuilds the indexes; the planner estimates a search
    from the statistics ANALYZE keeps per index expression, which a new
    index lacks -- without them every search is guessed at 0.5 % of the
    users (at a million, a rare term then walked the table: 13.5 s)."""
    User.objects.bulk_create(
        User(email=f"user{i:03d}@example.com", name=f"Person {i}", password="!") for i in range(300)
    )
    migration = importlib.import_module("accounts.migrations.0013_users_trgm_without_pending_list")
    with connection.schema_editor(atomic=False) as editor:
        migration.forwards(None, editor)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_stats WHERE tablename = ANY(%s)", [list(TRIGRAM_INDEXES)]
        )
        analysed = {row[0] for row in cursor.fetchall()}
    assert analysed == set(TRIGRAM_INDEXES)
    for name in TRIGRAM_INDEXES:
        assert _index(name)[1] == ["fastupdate=off"]
