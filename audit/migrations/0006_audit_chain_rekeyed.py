"""Switch an existing audit chain to keyed hashes (AUDIT_CHAIN_KEY).

Events already written keep their plain SHA-256 hashes; one
`audit.chain.rekeyed` event, hashed with the key, is appended after them.
`verify_chain` checks the events before it with the plain hash and the rest
with the HMAC. A fresh database has nothing to rekey and gets no such event.

The boundary event is written through the historical model, never through
the audit services: a database that sits at 0005 with events and is
upgraded straight to a later release has, at this point, the columns of
0005 only, while the services write the current model's columns. The hash
(`compute_hash`) covers only columns that existed here -- later ones are
hashed only when set -- so it is the hash the services would have written.
"""

from django.db import migrations
from django.utils import timezone

REKEYED_ACTION = "audit.chain.rekeyed"


def rekey(apps, schema_editor):
    # Imported here, not at the top: a migration module is loaded before
    # the apps are ready. compute_hash reads only attributes the model has.
    from audit.services.hashing import compute_hash

    event_model = apps.get_model("audit", "AuditEvent")
    legacy = event_model.objects.count()
    if not legacy or event_model.objects.filter(action=REKEYED_ACTION).exists():
        return
    fields = {field.name for field in event_model._meta.get_fields()}
    # Before 0009 the chain's order is the id's; from 0009 on it is `seq`.
    ordered = "-seq" if "seq" in fields else "-id"
    tail = event_model.objects.exclude(hash="").order_by(ordered).first()
    event = event_model(
        created_at=timezone.now(),
        actor_label="system",
        action=REKEYED_ACTION,
        target_type="audit",
        target_id="",
        target_label="Audit log",
        reason="The audit chain is keyed from this event on (HMAC-SHA256, AUDIT_CHAIN_KEY).",
        outcome="success",
        changes={"legacy_events": legacy},
    )
    event.prev_hash = tail.hash if tail else ""
    event.hash = compute_hash(event, event.prev_hash)
    if "seq" in fields:  # called on a current schema (the tests do)
        event.seq = (tail.seq or 0) + 1 if tail else 1
    event.save()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_scale_audit_actor_label_idx"),
    ]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
