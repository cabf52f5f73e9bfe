"""`users:update` used to cover other users' email addresses too; the
editor role must not (seed 000: edits content, does not manage users), so
changing an email is now `users:update-email`.

Every role, direct grant and API key scope that held `users:update` keeps
what it could do and gains `users:update-email` -- except the built-in
editor role, which loses it by design. Forcing a password change moved
from `users:update` to `users:reset-password` (a password step, not a
profile edit); holders of `users:update` alone lose that, as intended."""

from django.db import migrations

OLD, NEW = "users:update", "users:update-email"


def _widen(perms):
    perms = list(perms or [])
    if OLD in perms and NEW not in perms:
        return sorted([*perms, NEW]), True
    return perms, False


def forwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    User = apps.get_model("accounts", "User")
    ApiKey = apps.get_model("accounts", "ApiKey")
    for role in Role.objects.all():
        if role.is_builtin and role.slug == "editor":
            continue
        role.permissions, changed = _widen(role.permissions)
        if changed:
            role.save(update_fields=["permissions"])
    for user in User.objects.exclude(direct_permissions=[]).only("pk", "direct_permissions"):
        user.direct_permissions, changed = _widen(user.direct_permissions)
        if changed:
            user.save(update_fields=["direct_permissions"])
    for key in ApiKey.objects.only("pk", "scopes"):
        key.scopes, changed = _widen(key.scopes)
        if changed:
            key.save(update_fields=["scopes"])


def backwards(apps, schema_editor):
    Role = apps.get_model("rbac", "Role")
    for role in Role.objects.all():
        if NEW in (role.permissions or []):
            role.permissions = [p for p in role.permissions if p != NEW]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("rbac", "0002_builtin_roles"), ("accounts", "0002_users_trgm")]

    operations = [migrations.RunPython(forwards, backwards)]
