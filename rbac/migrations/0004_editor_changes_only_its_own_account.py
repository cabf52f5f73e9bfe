"""Seed 000: the built-in editor "can edit content but not manage users".
It held users:update, which let it edit other users' name, phone and
metadata; the built-in row now matches `rbac.permissions.BUILTIN_ROLES`
(the editor edits only their own profile, on the account page). Custom
roles are left alone."""

from django.db import migrations

DROPPED = "users:update"
EDITOR = {
    "description": "Edits their own profile and reads users; changes no one else's account.",
}


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.filter(slug="editor", is_builtin=True):
        role.permissions = sorted(p for p in role.permissions or [] if p != DROPPED)
        role.description = EDITOR["description"]
        role.save(update_fields=["permissions", "description"])


def backwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.filter(slug="editor", is_builtin=True):
        role.permissions = sorted({*(role.permissions or []), DROPPED})
        role.description = "Edits user profiles; cannot manage access."
        role.save(update_fields=["permissions", "description"])


class Migration(migrations.Migration):
    dependencies = [("rbac", "0003_split_users_update_email")]

    operations = [migrations.RunPython(forwards, backwards)]
