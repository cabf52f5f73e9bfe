"""Everything that changes roles and grants."""

from __future__ import annotations

from rbac.models import Role
from rbac.permissions import BUILTIN_ROLES


def builtin_roles_ensure() -> None:
    """Create any missing built-in role (idempotent). The data migration
    creates them; this restores them after a test runner's table flush."""
    existing = set(Role.objects.filter(slug__in=BUILTIN_ROLES).values_list("slug", flat=True))
    Role.objects.bulk_create(
        [
            Role(
                slug=slug,
                name=spec["name"],
                description=spec["description"],
                permissions=spec["permissions"],
                is_builtin=True,
            )
            for slug, spec in BUILTIN_ROLES.items()
            if slug not in existing
        ]
    )
