"""The users list's search on PostgreSQL: the trigram indexes exist on the
very expressions the query filters on (the email as stored, lower-cased;
`UPPER(name)`), have no pending list (a search never reads an unsorted
backlog of recent writes), and the search's query uses them."""

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
# The expression each index is built on, as pg_get_indexdef writes it.
INDEXED = {
    "accounts_user_email_trgm": "((email)::text) gin_trgm_ops",
    "accounts_user_name_trgm": "upper((name)::text) gin_trgm_ops",
}


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
    for name, expression in INDEXED.items():
        definition, options = _index(name)
        assert "USING gin" in definition
        assert expression in definition, definition
        assert options == ["fastupdate=off"]


def test_an_email_search_matches_the_address_as_stored_without_upper(require_postgres, owner):
    """Addresses are stored lower-cased, so the search compares them as
    stored (no `UPPER()` a row walked) with the text in that same form:
    typed in capitals, or full-width, it still finds the address."""
    make_user("ada.lovelace@example.com", name="Countess")
    make_user("grace@navy.example", name="Grace Hopper")
    sql = str(User.objects.filter(search_q("LOVELACE")).query)
    assert 'UPPER("accounts_user"."email"' not in sql, sql
    assert 'UPPER("accounts_user"."name"' in sql, sql
    for typed in ("LOVELACE", "Lovelace@Example", "\uff2c\uff4f\uff56\uff45"):  # full-width "Love"
        found = user_filter_queryset(UserFilters(q=typed), actor=owner)
        assert [u.email for u in found] == ["ada.lovelace@example.com"], typed
    # The name still matches whatever its case.
    found = user_filter_queryset(UserFilters(q="gRACE hOP"), actor=owner)
    assert [u.email for u in found] == ["grace@navy.example"]


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
    # 0013 rebuilds both on UPPER(); 0015 the email's on the address as
    # stored, which leaves the schema as migrated for the tests after.
    for module in ("0013_users_trgm_without_pending_list", "0015_email_trgm_as_stored"):
        migration = importlib.import_module(f"accounts.migrations.{module}")
        with connection.schema_editor(atomic=False) as editor:
            migration.forwards(None, editor)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_stats WHERE tablename = ANY(%s)", [list(TRIGRAM_INDEXES)]
        )
        analysed = {row[0] for row in cursor.fetchall()}
    assert analysed == set(TRIGRAM_INDEXES)
    for name, expression in INDEXED.items():
        definition, options = _index(name)
        assert expression in definition, definition
        assert options == ["fastupdate=off"]
