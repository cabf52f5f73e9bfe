"""Trigram indexes for the users list search (case-insensitive substring on
email and name). PostgreSQL only: on SQLite this migration does nothing.

Django's `icontains` on PostgreSQL compiles to `UPPER(col::text) LIKE
UPPER(%s)`, so the indexes are on that same expression."""

from django.db import migrations

INDEXES = {
    "accounts_user_email_trgm": "email",
    "accounts_user_name_trgm": "name",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON accounts_user "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
