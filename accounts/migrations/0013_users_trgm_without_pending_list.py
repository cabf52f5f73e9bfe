"""The search's trigram indexes (0002) rebuilt without GIN's pending list
(`fastupdate = off`). PostgreSQL only: on SQLite this migration does nothing.

With the pending list, every row written since the last VACUUM -- a new
user, and any update that is not HOT (on `accounts_user` every sign-in:
it writes the indexed `last_login`) -- waits in an unsorted list that
every search reads from end to end, up to 4 MB an index. On the
benchmark databases (EXPLAIN ANALYZE, BUFFERS): at 100,000 users the
lists held 141 of the 147 pages a search with no match read, and the
count for "12345" took 1.4 ms with them, 0.12 ms without (median of 40);
at a million users the name index's list alone was 217 pages, 9.6 of the
10.1 ms of that count. Without it a write adds its few dozen trigrams to
the index at once (no difference measurable in 1,500 updates of
`last_login`), and no insert ever pays for flushing a full list.

Built CONCURRENTLY beside the old index, which is then dropped the same way
and the new one takes its name: the users table is never locked against
reads or writes (a million users take about a minute). Hence not atomic."""

from django.db import migrations

INDEXES = {
    "accounts_user_email_trgm": "email",
    "accounts_user_name_trgm": "name",
}


def _rebuild(schema_editor, *, fastupdate: bool):
    if schema_editor.connection.vendor != "postgresql":
        return
    setting = "on" if fastupdate else "off"
    for name, column in INDEXES.items():
        building = f"{name}_new"
        # A run interrupted half-way leaves an invalid `_new` index behind.
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY {building} ON accounts_user "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops) WITH (fastupdate = {setting})"
        )
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        schema_editor.execute(f"ALTER INDEX {building} RENAME TO {name}")
    # The planner estimates `UPPER(email) LIKE '%...%'` from the statistics
    # ANALYZE keeps for each index's expression, and a new index has none
    # until then: every search is guessed at 0.5 % of the users, and a rare
    # term walks the whole table in date order (at a million users "12345"
    # took 13.5 s instead of 11 ms).
    schema_editor.execute("ANALYZE accounts_user")


def forwards(apps, schema_editor):
    _rebuild(schema_editor, fastupdate=False)


def backwards(apps, schema_editor):
    _rebuild(schema_editor, fastupdate=True)


class Migration(migrations.Migration):
    # CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("accounts", "0012_saved_views")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
