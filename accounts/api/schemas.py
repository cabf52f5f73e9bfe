"""Request and response schemas of the accounts API. Input schemas forbid
unknown fields (`Strict`); their names are the OpenAPI component names."""

from __future__ import annotations

import uuid
from datetime import datetime

from ninja import Field, Schema
from pydantic import ConfigDict

from accounts.security import parse_user_agent

MAX_BATCH = 1000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class OrganizationRolesOut(Schema):
    slug: str
    roles: list[str]


class UserOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    status: str
    is_super: bool
    roles: list[str]
    organizations: list[OrganizationRolesOut] = []
    permissions: list[str]
    created_at: datetime
    last_login: datetime | None = None
    email_verified: bool
    banned_until: datetime | None = None
    ban_reason: str = ""
    locked_until: datetime | None = Field(
        None,
        description="Failed sign-ins lock the user out until then (null: not locked). "
        "`POST /api/admin/users/{id}/unlock` lifts it.",
    )
    locked_addresses: list[str] = Field(
        default_factory=list,
        description="For the owner and users who manage users, locked only from the "
        "addresses the failures came from: those addresses (empty for an account-wide lock).",
    )
    # The user asked for their own account to be deleted: when it will be
    # (they can cancel until then).
    deletion_due_at: datetime | None = None


class UserCreateIn(Strict):
    email: str = Field(..., max_length=254)
    name: str = Field("", max_length=150)
    template: str | None = None
    permissions: list[str] = Field(default_factory=list, max_length=100)
    roles: list[str] = Field(default_factory=list, max_length=50)
    password: str | None = Field(None, max_length=1024)
    send_invite: bool = False
    auto_confirm: bool = False


class UserUpdateIn(Strict):
    name: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    metadata: dict | None = None
    # Changing the key's own user's email needs the person: their password.
    current_password: str | None = Field(None, max_length=1024)


class ReauthIn(Strict):
    """For changes to the key's own user's account (other sessions, MFA
    factors, other keys): the user's current password."""

    current_password: str | None = Field(None, max_length=1024)


class PermissionsPatchIn(Strict):
    grant: list[str] = Field(default_factory=list, max_length=100)
    revoke: list[str] = Field(default_factory=list, max_length=100)


class TransferIn(Strict):
    target_user_id: uuid.UUID
    # The owner's current password (a key alone is not the person), named
    # as every other re-authentication field; `password` is its old name.
    current_password: str | None = Field(None, max_length=1024)
    password: str | None = Field(
        None, max_length=1024, description="Deprecated: the old name of current_password."
    )


class RoleAssignIn(Strict):
    role: str = Field(..., min_length=1, max_length=50)


class PasswordIn(Strict):
    password: str = Field(..., max_length=1024)


class ResetTokenOut(Schema):
    token: str
    expires_at: datetime
    link: str


class MagicLinkOut(Schema):
    success: bool
    type: str
    magic_link: str


class SessionOut(Schema):
    id: int
    ip: str | None
    user_agent: str
    # Parsed from user_agent (ua-parser): "Firefox 128", "Windows".
    browser: str
    os: str
    created_at: datetime
    last_seen_at: datetime

    @staticmethod
    def resolve_browser(obj) -> str:
        return parse_user_agent(obj.user_agent).browser

    @staticmethod
    def resolve_os(obj) -> str:
        return parse_user_agent(obj.user_agent).os


class FactorOut(Schema):
    id: str = Field(
        ..., description="`totp-<n>`, `passkey-<n>` or `recovery-<n>`: what DELETE names."
    )
    type: str = Field(
        ..., description="`totp` (authenticator app), `passkey` (WebAuthn) or `recovery` (codes)."
    )
    name: str
    confirmed: bool


class UserExportOut(Schema):
    exported_at: str
    profile: dict
    roles: list
    direct_permissions: list
    # None when the key lacks sessions:read / audit:read (see `omitted`).
    sessions: list | None
    # The browsers the user signed in from before (with sessions:read).
    known_devices: list | None = None
    invitations: list
    audit_events: list | None
    omitted: dict[str, str] = {}


class OkOut(Schema):
    success: bool
    detail: str = ""


class BatchErrorOut(Schema):
    user_id: str
    error: str


class BatchItemOut(Schema):
    user_id: str
    email: str
    outcome: str
    reason: str


class JobQueuedOut(Schema):
    """A batch above the inline limit, queued as a job."""

    job_id: uuid.UUID
    status: str
    total: int
    url: str


class BatchOut(Schema):
    success: bool
    processed: int
    skipped: int
    errors: list[BatchErrorOut]
    items: list[BatchItemOut]
    dry_run: bool = False


class InvitationOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    status: str
    roles: list[str]
    permissions: list[str]
    organization: str | None = None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


class InvitationCreateIn(Strict):
    email: str = Field(..., max_length=254)
    name: str = Field("", max_length=150)
    roles: list[str] = Field(default_factory=list, max_length=50)
    template: str | None = None
    permissions: list[str] = Field(default_factory=list, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=90)
    organization: str | None = Field(None, max_length=50)


class InvitationCreatedOut(InvitationOut):
    link: str


class ApiKeyOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    user_id: uuid.UUID
    user_email: str
    scopes: list[str]
    status: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    # Why a revoked key stopped: "revoked" by someone, or what ended its
    # user's access ("banned", "deleted", "disabled", "no management permission").
    revoked_reason: str = ""


class ApiKeyCreateIn(Strict):
    name: str = Field(..., min_length=1, max_length=100)
    template: str | None = None
    permissions: list[str] = Field(default_factory=list, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    # A key making a key needs the person: their current password.
    current_password: str | None = Field(None, max_length=1024)


class ApiKeyCreatedOut(ApiKeyOut):
    key: str


class ForgotIn(Strict):
    email: str = Field(..., max_length=254)


class ResetIn(Strict):
    token: str = Field(..., max_length=200)
    password: str = Field(..., max_length=1024)


class AcceptIn(Strict):
    token: str = Field(..., max_length=200)
    name: str = Field("", max_length=150)
    password: str = Field(..., max_length=1024)


class InvitationImportIn(Strict):
    """A CSV of `email,name,roles` (roles separated by `;`; a header row is
    skipped; an empty roles cell uses `roles`)."""

    csv: str = Field(..., min_length=1, max_length=1024 * 1024)
    roles: list[str] = Field(default_factory=list, max_length=50)
    template: str | None = Field(None, max_length=50)
    expires_in_days: int | None = Field(None, ge=1, le=60)
    # Check every row and answer the report; send nothing.
    dry_run: bool = False


class ImportRowOut(Schema):
    line: int
    email: str
    name: str
    roles: list[str]
    # Why the row is not sent (checked before anything is sent).
    errors: list[str]
    # The outcome of sending it: null until sent (a dry run, a row with
    # errors, or a row a background job sends).
    sent: bool | None = None
    error: str = ""
    invitation_id: uuid.UUID | None = None
    link: str = ""


class InvitationImportOut(Schema):
    rows: list[ImportRowOut]
    valid: int
    invalid: int
    sent: int
    failed: int
    dry_run: bool
    # Above the page's inline limit the valid rows are sent by a background
    # job (202): follow it at /api/admin/jobs/{job_id}.
    job_id: uuid.UUID | None = None
