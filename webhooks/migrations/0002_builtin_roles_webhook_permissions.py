"""The built-in owner and admin roles hold every permission: they gain
`webhooks:read` and `webhooks:manage` (the owner holds them implicitly
anyway)."""

from django.db import migrations

NEW = ("webhooks:read", "webhooks:manage")


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.filter(is_builtin=True, slug__in=("owner", "admin")):
        perms = sorted(set(role.permissions or []) | set(NEW))
        if perms != sorted(role.permissions or []):
            role.permissions = perms
            role.save(update_fields=["permissions"])


def backwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.all():
        if any(p in (role.permissions or []) for p in NEW):
            role.permissions = [p for p in role.permissions if p not in NEW]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_endpoints_and_deliveries"),
        ("rbac", "0003_split_users_update_email"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
