"""The organization permissions reach the roles that exist: the built-in
owner and admin hold every permission, so they gain all six; any role that
can see users (`users:read`) can now see organizations and their members;
any role that assigns roles (`roles:assign`) can manage members. Two new
built-in roles meant to be held inside an organization: "Organization
admin" and "Member". The lists are written out here, not imported, so the
migration means the same thing whatever the catalog becomes."""

from django.db import migrations

NEW = [
    "members:manage",
    "members:read",
    "organizations:create",
    "organizations:delete",
    "organizations:read",
    "organizations:update",
]
ORG_ADMIN = [
    "invitations:create",
    "members:manage",
    "members:read",
    "mfa:read",
    "mfa:reset",
    "organizations:read",
    "organizations:update",
    "roles:assign",
    "roles:read",
    "sessions:read",
    "sessions:revoke",
    "users:ban",
    "users:disable",
    "users:read",
    "users:reset-password",
    "users:update",
    "users:update-email",
]


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.all():
        perms = set(role.permissions or [])
        if role.is_builtin and role.slug in ("owner", "admin"):
            perms |= set(NEW)
        if "users:read" in perms:
            perms |= {"organizations:read", "members:read"}
        if "roles:assign" in perms:
            perms.add("members:manage")
        if perms != set(role.permissions or []):
            role.permissions = sorted(perms)
            role.save(update_fields=["permissions"])
    Role.objects.update_or_create(
        slug="org-admin",
        defaults={
            "name": "Organization admin",
            "description": "Held in an organization: manages that organization's members.",
            "permissions": ORG_ADMIN,
            "is_builtin": True,
        },
    )
    Role.objects.update_or_create(
        slug="member",
        defaults={
            "name": "Member",
            "description": "Held in an organization: a client with no management access.",
            "permissions": [],
            "is_builtin": True,
        },
    )


def backwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    Role.objects.filter(slug__in=["org-admin", "member"], is_builtin=True).delete()
    for role in Role.objects.all():
        kept = [p for p in role.permissions or [] if p not in NEW]
        if kept != list(role.permissions or []):
            role.permissions = kept
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("rbac", "0006_organizations")]

    operations = [migrations.RunPython(forwards, backwards)]
