"""Everything that changes roles and grants.

Every function here is a `@service`: row locks (users by id, then
organizations by id, then roles), then its named guard from
`rbac.policies` (a refusal rolls back and is audited as `denied`), then an
early return when nothing changes, then the change, its audit events and,
after commit, its emails. One module per use case: `roles`, `assignments`
(a user's roles and grants), `organizations`, `ownership`.
"""

from rbac.permissions import OWNER_ROLE  # noqa: F401
from rbac.services.assignments import (  # noqa: F401 (the package's names)
    user_permissions_update,
    user_role_assign,
    user_role_remove,
)
from rbac.services.common import (  # noqa: F401
    ADMIN_ROLE,
    RESERVED_SLUGS,
    SLUG_RE,
    preview_role_change,
)
from rbac.services.organizations import (  # noqa: F401
    member_add,
    member_remove,
    member_roles_set,
    org_role_assign,
    org_role_remove,
    organization_create,
    organization_delete,
    organization_update,
)
from rbac.services.ownership import ownership_transfer  # noqa: F401
from rbac.services.roles import role_create, role_delete, role_update  # noqa: F401
