"""The RBAC part of the JSON API: `roles` (`/api/admin/roles`) and
`organizations` (`/api/admin/organizations`, their members)."""

from rbac.api.roles import RoleOut, router  # noqa: F401 (the roles router and schema, as before)
