"""The audit chain off the request path (issue 29): events are written
unsealed and the sealer (audit.services.sealer) links them.

- `seq`: an event's place in the chain. Events chained before this
  migration keep their order: their `seq` is their id (the order they were
  chained in, under the old global lock).
- Pending sign-in events (`PendingEvent`, the old way round the lock) become
  unsealed events, sealed like every other; the table goes.
- The append-only trigger lets the sealer (transaction-local flag
  `handover.audit_seal`) fill in an unsealed row's `seq`, `prev_hash` and
  `hash` -- once, and nothing else; the erasure path may not touch `seq`.
"""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('handover.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('handover.audit_seal', true) = 'on'
       AND OLD.seq IS NULL AND OLD.hash = '' AND OLD.prev_hash = ''
       AND NEW.seq IS NOT NULL AND NEW.hash <> ''
       AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label = OLD.actor_label
       AND NEW.acting_for_id IS NOT DISTINCT FROM OLD.acting_for_id
       AND NEW.acting_for_label = OLD.acting_for_label
       AND NEW.action = OLD.action
       AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id
       AND NEW.target_label = OLD.target_label
       AND NEW.ip IS NOT DISTINCT FROM OLD.ip
       AND NEW.user_agent = OLD.user_agent AND NEW.request_id = OLD.request_id
       AND NEW.batch_id IS NOT DISTINCT FROM OLD.batch_id
       AND NEW.reason = OLD.reason AND NEW.outcome = OLD.outcome
       AND NEW.changes = OLD.changes THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('handover.audit_scrub', true) = 'on'
       AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at AND NEW.action = OLD.action
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id
       AND NEW.request_id = OLD.request_id
       AND NEW.batch_id IS NOT DISTINCT FROM OLD.batch_id
       AND NEW.outcome = OLD.outcome
       AND NEW.seq IS NOT DISTINCT FROM OLD.seq
       AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

PREVIOUS = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('handover.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('handover.audit_scrub', true) = 'on'
       AND NEW.id = OLD.id AND NEW.created_at = OLD.created_at AND NEW.action = OLD.action
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id
       AND NEW.request_id = OLD.request_id
       AND NEW.batch_id IS NOT DISTINCT FROM OLD.batch_id
       AND NEW.outcome = OLD.outcome
       AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    event_model = apps.get_model("audit", "AuditEvent")
    pending_model = apps.get_model("audit", "PendingEvent")
    postgres = schema_editor.connection.vendor == "postgresql"
    table = event_model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_event_append_only")
        # The chain so far, in the order it was chained.
        cursor.execute(f"UPDATE {table} SET seq = id WHERE hash <> ''")  # noqa: S608
        if postgres:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_event_append_only")
            cursor.execute(TRIGGER)
    for row in pending_model.objects.order_by("created_at", "id").iterator():
        event_model.objects.create(created_at=row.created_at, **row.fields)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PREVIOUS)


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_audit_event_acting_for")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="PendingEvent"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)),
                fields=["id"],
                name="audit_unsealed_idx",
            ),
        ),
    ]
