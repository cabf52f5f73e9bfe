"""The permission catalog: every permission string Handover knows.

Permissions are `resource:action` strings. Anything not in this catalog is
rejected wherever permissions are accepted (roles, grants, invitations, API
key scopes), so a typo can never silently grant nothing -- or something.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Permission:
    code: str
    group: str
    description: str


GROUPS = {
    "users": "Users",
    "invitations": "Invitations",
    "sessions": "Sessions",
    "mfa": "Multi-factor authentication",
    "roles": "Roles and permissions",
    "audit": "Audit log",
    "api-keys": "API keys",
    "emails": "Emails",
    "webhooks": "Webhooks",
    "organizations": "Organizations",
    "views": "Saved views",
}

_CATALOG = [
    Permission("users:read", "users", "See users, their profiles and status"),
    Permission("users:create", "users", "Create users with a password"),
    Permission("users:update", "users", "Edit profiles: name, phone and metadata"),
    Permission("users:update-email", "users", "Change other users' email addresses"),
    Permission("users:ban", "users", "Ban and unban users"),
    Permission("users:disable", "users", "Disable, enable and unlock users"),
    Permission("users:delete", "users", "Delete and restore users"),
    Permission(
        "users:reset-password",
        "users",
        "Reset passwords, force a password change and send sign-in links",
    ),
    Permission("users:export", "users", "Export users and personal data"),
    Permission(
        "users:impersonate",
        "users",
        "View the dashboard as another user, read-only, for a limited time",
    ),
    Permission("invitations:read", "invitations", "See invitations"),
    Permission("invitations:create", "invitations", "Invite people and resend invitations"),
    Permission("invitations:revoke", "invitations", "Revoke pending invitations"),
    Permission("sessions:read", "sessions", "See other users' sessions"),
    Permission("sessions:revoke", "sessions", "End other users' sessions"),
    Permission("mfa:read", "mfa", "See other users' MFA factors"),
    Permission("mfa:reset", "mfa", "Remove other users' MFA factors"),
    Permission("roles:read", "roles", "See roles and effective permissions"),
    Permission("roles:create", "roles", "Create roles"),
    Permission("roles:update", "roles", "Edit roles"),
    Permission("roles:delete", "roles", "Delete custom roles"),
    Permission("roles:assign", "roles", "Assign and remove users' roles"),
    Permission("permissions:grant", "roles", "Grant and revoke permissions directly"),
    Permission("audit:read", "audit", "Read the audit log"),
    Permission("audit:export", "audit", "Export the audit log"),
    Permission("api-keys:read", "api-keys", "See API keys"),
    Permission("api-keys:create", "api-keys", "Create API keys"),
    Permission("api-keys:delete", "api-keys", "Revoke API keys"),
    Permission("emails:read", "emails", "See outbound emails and their delivery"),
    Permission("emails:retry", "emails", "Retry failed emails"),
    # Global-only: an endpoint receives every organization's events.
    Permission("webhooks:read", "webhooks", "See webhook endpoints and their delivery logs"),
    Permission(
        "webhooks:manage",
        "webhooks",
        "Add, change, remove webhook endpoints, rotate their secrets and replay deliveries",
    ),
    Permission("organizations:read", "organizations", "See organizations"),
    Permission("organizations:create", "organizations", "Create organizations"),
    Permission("organizations:update", "organizations", "Rename organizations, edit metadata"),
    Permission("organizations:delete", "organizations", "Delete empty organizations"),
    Permission("members:read", "organizations", "See an organization's members and their roles"),
    Permission(
        "members:manage", "organizations", "Add and remove members, change their roles there"
    ),
    # A shared view is a query string, run again for whoever opens it
    # within their own reach: sharing hands out no access, only a name.
    Permission("views:share", "views", "Share saved views of lists with the team"),
]

CATALOG: dict[str, Permission] = {p.code: p for p in _CATALOG}
ALL_PERMISSIONS: frozenset[str] = frozenset(CATALOG)

# Permissions a role held inside one organization never confers: they act
# on the whole installation (roles, direct grants, creating and deleting
# organizations, the outbox, the audit export) or on lists no organization
# narrows yet (invitations and API keys of everyone). Everything else is
# organization-scopable: held in an organization, it applies to that
# organization's members.
GLOBAL_ONLY: frozenset[str] = frozenset(
    {
        "roles:create",
        "roles:update",
        "roles:delete",
        "permissions:grant",
        "organizations:create",
        "organizations:delete",
        "audit:export",
        "emails:read",
        "emails:retry",
        "invitations:read",
        "invitations:revoke",
        "api-keys:read",
        "api-keys:delete",
        "webhooks:read",
        "webhooks:manage",
        "users:impersonate",
    }
)
SCOPABLE: frozenset[str] = ALL_PERMISSIONS - GLOBAL_ONLY


def is_scopable(code: str) -> bool:
    return code in SCOPABLE


def left_out_in_organization(permissions) -> list[str]:
    """What a role held in an organization does not confer there: its
    global-only permissions."""
    return sorted(set(permissions) & GLOBAL_ONLY)


# Permissions that manage other people's access or accounts. Holding any of
# them makes a user a "manager": MFA is required and Django admin is open.
MANAGEMENT_PERMISSIONS: frozenset[str] = frozenset(
    {
        "users:create",
        "users:update",
        "users:update-email",
        "users:ban",
        "users:disable",
        "users:delete",
        "users:reset-password",
        "invitations:create",
        "invitations:revoke",
        "sessions:revoke",
        "mfa:reset",
        "roles:create",
        "roles:update",
        "roles:delete",
        "roles:assign",
        "permissions:grant",
        "organizations:create",
        "organizations:update",
        "organizations:delete",
        "members:manage",
        "api-keys:create",
        "api-keys:delete",
        "emails:retry",
        "webhooks:manage",
        "users:impersonate",
    }
)

# Who can hand out access: the last-manager guard keeps at least one of
# these (besides the owner) whenever the owner cannot act.
ROLE_MANAGER_PERMISSION = "roles:assign"
# Seeing the dashboard as another user: only the owner and full access hold
# it by default (not the admin role, nor the manager template).
IMPERSONATE_PERMISSION = "users:impersonate"
# Permissions only a dashboard session can use: an API key never holds them
# (a key made from a template that lists them leaves them out).
DASHBOARD_ONLY_PERMISSIONS: frozenset[str] = frozenset({IMPERSONATE_PERMISSION})


# Templates prefill a role's, a new user's or an API key's permissions.
TEMPLATES: dict[str, dict] = {
    "viewer": {
        "name": "Viewer",
        "description": "Read-only access to users, invitations and roles.",
        "permissions": frozenset(
            {
                "users:read",
                "invitations:read",
                "roles:read",
                "sessions:read",
                "mfa:read",
                "organizations:read",
                "members:read",
            }
        ),
    },
    "operator": {
        "name": "Operator",
        "description": "Day-to-day support: edit profiles, reset passwords, end sessions.",
        "permissions": frozenset(
            {
                "users:read",
                "users:update",
                "users:update-email",
                "users:reset-password",
                "invitations:read",
                "invitations:create",
                "sessions:read",
                "sessions:revoke",
                "mfa:read",
                "roles:read",
                "emails:read",
                "api-keys:read",
                "api-keys:create",
                "api-keys:delete",
                "organizations:read",
                "members:read",
            }
        ),
    },
    "org_admin": {
        "name": "Organization admin",
        "description": "Manages one organization's people when assigned in it.",
        "permissions": frozenset(
            {
                "users:read",
                "users:update",
                "users:update-email",
                "users:ban",
                "users:disable",
                "users:reset-password",
                "sessions:read",
                "sessions:revoke",
                "mfa:read",
                "mfa:reset",
                "roles:read",
                "roles:assign",
                "invitations:create",
                "organizations:read",
                "organizations:update",
                "members:read",
                "members:manage",
            }
        ),
    },
    "manager": {
        "name": "Manager",
        "description": "Manage users and their access, except roles and the audit export.",
        "permissions": frozenset(ALL_PERMISSIONS)
        - {
            "roles:create",
            "roles:update",
            "roles:delete",
            "audit:export",
            "permissions:grant",
            IMPERSONATE_PERMISSION,
            "organizations:create",
            "organizations:delete",
        },
    },
    "full_access": {
        "name": "Full access",
        "description": "Every permission in the catalog.",
        "permissions": ALL_PERMISSIONS,
    },
}


class UnknownPermission(ValidationError):
    pass


def validate_permissions(codes) -> list[str]:
    """Return the codes sorted and deduplicated; raise on any unknown string."""
    if isinstance(codes, str) or not hasattr(codes, "__iter__"):
        raise UnknownPermission("Permissions must be a list of strings.", code="invalid")
    codes = list(codes)
    unknown = sorted({str(c) for c in codes if not isinstance(c, str) or c not in CATALOG})
    if unknown:
        raise UnknownPermission(
            "Unknown permission%s: %s." % ("s" if len(unknown) > 1 else "", ", ".join(unknown)),
            code="unknown_permission",
        )
    return sorted(set(codes))


def template_permissions(name: str) -> frozenset[str]:
    try:
        return TEMPLATES[name]["permissions"]
    except KeyError:
        raise ValidationError(
            "Unknown template %(name)s. Choose one of: %(choices)s.",
            code="unknown_template",
            params={"name": name, "choices": ", ".join(TEMPLATES)},
        ) from None


def grouped(codes=None) -> list[tuple[str, str, list[Permission]]]:
    """The catalog (or a subset) grouped for display: [(group, label, perms)]."""
    wanted = CATALOG.values() if codes is None else [CATALOG[c] for c in codes if c in CATALOG]
    out = []
    for group, label in GROUPS.items():
        perms = [p for p in wanted if p.group == group]
        if perms:
            out.append((group, label, perms))
    return out


# The owner's role, and the one a former owner keeps after handing
# ownership over (the transfer's guard counts what that role confers).
OWNER_ROLE = "owner"
FORMER_OWNER_ROLE = "admin"

BUILTIN_ROLES = {
    "owner": {
        "name": "Owner",
        "description": "The bootstrap user: every permission. Transferable only by the owner.",
        "permissions": sorted(ALL_PERMISSIONS),
    },
    "admin": {
        "name": "Admin",
        "description": "Everything except ownership and impersonation.",
        "permissions": sorted(ALL_PERMISSIONS - {IMPERSONATE_PERMISSION}),
    },
    # Seed 000: "can edit content but not manage users". The editor edits
    # their own profile (the account page needs no permission for that) and
    # changes no one else's account: no users:update.
    "editor": {
        "name": "Editor",
        "description": "Edits their own profile and reads users; changes no one else's account.",
        "permissions": sorted(
            {
                "users:read",
                "invitations:read",
                "roles:read",
                "emails:read",
                "organizations:read",
                "members:read",
            }
        ),
    },
    "viewer": {
        "name": "Viewer",
        "description": "Read-only access.",
        "permissions": sorted(TEMPLATES["viewer"]["permissions"]),
    },
    "org-admin": {
        "name": "Organization admin",
        "description": "Held in an organization: manages that organization's members.",
        "permissions": sorted(TEMPLATES["org_admin"]["permissions"]),
    },
    "member": {
        "name": "Member",
        "description": "Held in an organization: a client with no management access.",
        "permissions": [],
    },
}
