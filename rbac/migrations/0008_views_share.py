"""`views:share` (issue 27, saved views) is new: the built-in owner and
admin roles hold every permission (the admin all but impersonation), so
they gain it; no other role, grant or key does. Sharing a view hands out
no access (a shared view is run again within each viewer's reach), so
other roles may be given it by hand."""

from django.db import migrations

NEW = "views:share"


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.filter(is_builtin=True, slug__in=["owner", "admin"]):
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
    dependencies = [("rbac", "0007_organization_permissions")]

    operations = [migrations.RunPython(forwards, backwards)]
