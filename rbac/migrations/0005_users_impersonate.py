"""`users:impersonate` (issue 26) is new: the built-in owner role holds
every permission, so it gains it; the built-in admin role and every other
role, grant and key do not -- by default only the owner and the holders of
the owner role (full access) may view the dashboard as someone else."""

from django.db import migrations

NEW = "users:impersonate"


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.filter(is_builtin=True, slug="owner"):
        if NEW not in (role.permissions or []):
            role.permissions = sorted([*(role.permissions or []), NEW])
            role.save(update_fields=["permissions"])


def backwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.all():
        if NEW in (role.permissions or []):
            role.permissions = [p for p in role.permissions if p != NEW]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("rbac", "0004_editor_changes_only_its_own_account")]

    operations = [migrations.RunPython(forwards, backwards)]
