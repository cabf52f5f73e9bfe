"""Switch an existing audit chain to keyed hashes (AUDIT_CHAIN_KEY).

Events already written keep their plain SHA-256 hashes; one
`audit.chain.rekeyed` event, hashed with the key, is appended after them.
`verify_chain` checks the events before it with the plain hash and the rest
with the HMAC. A fresh database has nothing to rekey and gets no such event.
"""

from django.db import migrations


def rekey(apps, schema_editor):
    # The service is imported here, not at the top, because a migration
    # module is loaded before the apps are ready; it runs against the
    # current model, whose hashed columns this migration does not change.
    from audit import services

    event_model = apps.get_model("audit", "AuditEvent")
    legacy = event_model.objects.count()
    if legacy and not event_model.objects.filter(action=services.REKEYED_ACTION).exists():
        services.chain_rekey(legacy_events=legacy)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_scale_audit_actor_label_idx"),
    ]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
