"""Django authorization answered from RBAC.

`user.has_perm("users:ban")` asks the catalog directly. Django admin's model
permissions (`accounts.delete_user`, ...) are mapped to catalog permissions
here so an operator cannot do in admin what they cannot do in the dashboard.
"""

from rbac.permissions import CATALOG, MANAGEMENT_PERMISSIONS
from rbac.selectors import user_effective_permissions

# app_label.codename -> the catalog permission that allows it. Anything not
# listed is denied (fail closed).
MODEL_PERMISSION_MAP = {
    "accounts.view_user": "users:read",
    "accounts.change_user": "users:update",
    "accounts.add_user": "users:create",
    "accounts.delete_user": "users:delete",
    "accounts.view_invitation": "invitations:read",
    "accounts.view_apikey": "api-keys:read",
    "accounts.view_outboundemail": "emails:read",
    "accounts.view_usersession": "sessions:read",
    "rbac.view_role": "roles:read",
    "rbac.add_role": "roles:create",
    "rbac.change_role": "roles:update",
    "rbac.delete_role": "roles:delete",
    "audit.view_auditevent": "audit:read",
}

ADMIN_APPS = {"accounts", "rbac", "audit"}


def model_permission_allowed(perms, perm: str) -> bool:
    """Whether holding `perms` (catalog strings) allows `perm`: a catalog
    permission or a Django model permission mapped above."""
    if perm in CATALOG:
        return perm in perms
    mapped = MODEL_PERMISSION_MAP.get(perm)
    return mapped is not None and mapped in perms


def module_allowed(perms, app_label: str) -> bool:
    """Whether holding `perms` opens `app_label`'s section of Django admin."""
    if app_label not in ADMIN_APPS:
        return False
    return any(
        key.startswith(app_label + ".") and value in perms
        for key, value in MODEL_PERMISSION_MAP.items()
    ) and bool(perms & (MANAGEMENT_PERMISSIONS | {"audit:read"}))


def _global_permissions(user_obj) -> frozenset[str]:
    """Django admin is the operators' door: only grants held globally open
    it (an organization's administrator manages their people in the
    dashboard, whose reads know their reach)."""
    from rbac.selectors import user_grants

    return user_grants(user_obj)[0]


class RBACBackend:
    """Authorization only; `authenticate` always declines. `User.permissions`
    and `User.has_perm` ask it (found through AUTHENTICATION_BACKENDS)."""

    def catalog_permissions(self, user_obj) -> frozenset[str]:
        return user_effective_permissions(user_obj)

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        return None

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        if not getattr(user_obj, "is_active", False):
            return False
        return model_permission_allowed(_global_permissions(user_obj), perm)

    def has_module_perms(self, user_obj, app_label) -> bool:
        if not getattr(user_obj, "is_active", False) or app_label not in ADMIN_APPS:
            return False
        return module_allowed(_global_permissions(user_obj), app_label)
