from django.db import migrations

from rbac.permissions import BUILTIN_ROLES


def create_builtin_roles(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for slug, spec in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            slug=slug,
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "permissions": spec["permissions"],
                "is_builtin": True,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("rbac", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_roles, migrations.RunPython.noop)]
