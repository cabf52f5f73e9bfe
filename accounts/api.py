"""API handlers for users, batch actions, invitations, API keys and the
public auth endpoints. Each handler: schema in → guard/service → schema out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from accounts import selectors
from accounts.models import ApiKey, Invitation, User, UserSession, UserStatus
from accounts.security import factors_for_user
from accounts.services.api_keys import api_key_create, api_key_revoke
from accounts.services.batch import ACTIONS, batch_run
from accounts.services.invitations import (
    invitation_accept,
    invitation_create,
    invitation_resend,
    invitation_revoke,
)
from accounts.services.mfa import mfa_device_remove
from accounts.services.passwords import (
    TooManyRequests,
    magic_link_send,
    password_reset_complete,
    password_reset_request,
    password_reset_token_create,
    password_set_by_admin,
)
from accounts.services.sessions import session_revoke, sessions_revoke_all
from accounts.services.users import (
    user_ban,
    user_create,
    user_data_exported,
    user_delete,
    user_disable,
    user_enable,
    user_force_password_change,
    user_restore,
    user_unban,
    user_update,
)
from handover.api_errors import ERRORS, ApiError, responses
from handover.ratelimit import client_ip, too_many
from rbac import policies
from rbac.selectors import user_effective_permissions
from rbac.services import ownership_transfer, user_permissions_update

users_router = Router(tags=["users"])
batch_router = Router(tags=["batch"])
invitations_router = Router(tags=["invitations"])
api_keys_router = Router(tags=["api keys"])
auth_router = Router(tags=["public auth"], auth=None)

MAX_LIMIT = 200
MAX_BATCH = 1000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


# --- schemas ------------------------------------------------------------------


class UserOut(Schema):
    id: uuid.UUID
    email: str
    name: str
    status: str
    is_super: bool
    roles: list[str]
    permissions: list[str]
    created_at: datetime
    last_login: datetime | None = None
    email_verified: bool
    banned_until: datetime | None = None
    ban_reason: str = ""


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
    password: str | None = Field(None, max_length=1024)


class BanIn(Strict):
    duration_hours: int | None = Field(None, ge=1, le=24 * 365 * 100)
    until: datetime | None = None
    reason: str = Field("", max_length=500)


class ReasonIn(Strict):
    reason: str = Field("", max_length=500)


class PasswordIn(Strict):
    password: str = Field(..., max_length=1024)


class ResetTokenIn(Strict):
    send_email: bool = False


class ResetTokenOut(Schema):
    token: str
    expires_at: datetime
    link: str


class MagicLinkIn(Strict):
    type: str = Field("recovery", pattern="^(signup|recovery|invite)$")


class MagicLinkOut(Schema):
    success: bool
    type: str
    magic_link: str


class SessionOut(Schema):
    id: int
    ip: str | None
    user_agent: str
    created_at: datetime
    last_seen_at: datetime


class FactorOut(Schema):
    id: str
    type: str
    name: str
    confirmed: bool


class UserExportOut(Schema):
    exported_at: str
    profile: dict
    roles: list
    direct_permissions: list
    sessions: list
    invitations: list
    audit_events: list


class OkOut(Schema):
    success: bool
    detail: str = ""


class BatchIn(Strict):
    user_ids: list[str] = Field(..., max_length=MAX_BATCH)
    dry_run: bool = False
    role: str | None = None
    reason: str = Field("", max_length=500)
    duration_hours: int | None = Field(None, ge=1, le=24 * 365 * 100)


class BatchErrorOut(Schema):
    user_id: str
    error: str


class BatchItemOut(Schema):
    user_id: str
    email: str
    outcome: str
    reason: str


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


class ApiKeyCreateIn(Strict):
    name: str = Field(..., min_length=1, max_length=100)
    template: str | None = None
    permissions: list[str] = Field(default_factory=list, max_length=100)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


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


# --- helpers --------------------------------------------------------------------


def actor_of(request):
    return request.auth


def require(request, permission: str, *, action: str, target=None) -> None:
    policies.check_permission(actor_of(request), permission, action=action, target=target)


def _password(payload) -> str | None:
    return payload.current_password if payload is not None else None


def user_out(user: User) -> dict:
    roles = getattr(user, "_prefetched_role_slugs", None)
    if roles is None:
        roles = sorted(user.roles.values_list("slug", flat=True))
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "status": user.status,
        "is_super": user.is_owner,
        "roles": roles,
        "permissions": sorted(user_effective_permissions(user)),
        "created_at": user.created_at,
        "last_login": user.last_login,
        "email_verified": user.email_verified_at is not None,
        "banned_until": user.banned_until if user.status == "banned" else None,
        "ban_reason": user.ban_reason if user.status == "banned" else "",
    }


def get_user(user_id, *, include_deleted: bool = False) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None or (user.deleted_at and not include_deleted):
        raise Http404("No user with this id.")
    return user


def invitation_out(inv: Invitation) -> dict:
    return {
        "id": inv.pk,
        "email": inv.email,
        "name": inv.name,
        "status": inv.status,
        "roles": sorted(r.slug for r in inv.roles.all()),
        "permissions": list(inv.permissions or []),
        "created_at": inv.created_at,
        "expires_at": inv.expires_at,
        "accepted_at": inv.accepted_at,
        "revoked_at": inv.revoked_at,
    }


def api_key_out(key: ApiKey) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "user_id": key.user_id,
        "user_email": key.user.email,
        "scopes": list(key.scopes),
        "status": key.status,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
    }


# --- users ----------------------------------------------------------------------


@users_router.post("", response=responses(201, UserOut), summary="Create a user")
def create_user(request, payload: UserCreateIn):
    actor = actor_of(request)
    if payload.send_invite:
        if payload.password:
            raise ApiError(400, "invalid", "Send an invitation or set a password, not both.")
        invitation, _link = invitation_create(
            actor=actor,
            email=payload.email,
            name=payload.name,
            roles=payload.roles,
            template=payload.template,
            permissions=payload.permissions,
        )
        user = invitation.user
    else:
        user = user_create(
            actor=actor,
            email=payload.email,
            name=payload.name,
            password=payload.password,
            roles=payload.roles,
            template=payload.template,
            permissions=payload.permissions,
            auto_confirm=payload.auto_confirm,
        )
    return Status(201, user_out(user))


@users_router.get("", response=responses(200, list[UserOut]), summary="List users")
def list_users(
    request,
    response: HttpResponse,
    q: str = "",
    status: str = "",
    role: str = "",
    limit: int = 50,
    cursor: str = "",
):
    require(request, "users:read", action="accounts.user.listed")
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_LIMIT}.")
    if status and status not in UserStatus.values:
        raise ApiError(
            400, "validation_error", "status must be one of: " + ", ".join(UserStatus.values)
        )
    filters = selectors.UserFilters(q=q, status=status, role=role)
    filters.size = limit  # the API allows any size up to MAX_LIMIT
    page = selectors.user_list(filters, cursor=cursor[:500])
    if page.next_cursor:
        query = urlencode(
            {k: v for k, v in {"q": q, "status": status, "role": role}.items() if v}
            | {"limit": limit, "cursor": page.next_cursor}
        )
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    return Status(200, [user_out(u) for u in page.users])


@users_router.get("/{uuid:user_id}", response=responses(200, UserOut), summary="Get a user")
def get_user_view(request, user_id: uuid.UUID):
    require(request, "users:read", action="accounts.user.viewed")
    return Status(200, user_out(get_user(user_id)))


@users_router.patch("/{uuid:user_id}", response=responses(200, UserOut), summary="Update a profile")
def update_user(request, user_id: uuid.UUID, payload: UserUpdateIn):
    user = user_update(
        actor=actor_of(request), user=get_user(user_id), **payload.model_dump(exclude_unset=True)
    )
    return Status(200, user_out(user))


@users_router.patch(
    "/{uuid:user_id}/permissions", response=responses(200, UserOut), summary="Grant or revoke"
)
def patch_permissions(request, user_id: uuid.UUID, payload: PermissionsPatchIn):
    try:
        user = user_permissions_update(
            actor=actor_of(request),
            user=get_user(user_id),
            grant=payload.grant,
            revoke=payload.revoke,
        )
    except policies.PolicyDenied as exc:
        if exc.code == "owner_protected":  # the seed's contract: 403, not a conflict
            if not exc.recorded:
                exc.record()
            raise ApiError(403, exc.code, exc.message) from exc
        raise
    return Status(200, user_out(user))


@users_router.post(
    "/transfer-super", response=responses(200, UserOut), summary="Transfer ownership"
)
def transfer_super(request, payload: TransferIn):
    target = get_user(payload.target_user_id)
    actor = actor_of(request)
    # A key is not the person: the owner's password must come with it.
    ownership_transfer(actor=actor, target=target, password=payload.password)
    return Status(200, user_out(User.objects.get(pk=target.pk)))


@users_router.delete("/{uuid:user_id}", response={204: None, **ERRORS}, summary="Delete a user")
def delete_user(request, user_id: uuid.UUID):
    user_delete(actor=actor_of(request), user=get_user(user_id))
    return Status(204, None)


def _status_action(name: str, service, summary: str, *, include_deleted=False):
    @users_router.post(
        f"/{{uuid:user_id}}/{name}",
        response=responses(200, UserOut),
        summary=summary,
        operation_id=f"user_{name.replace('-', '_')}",
    )
    def handler(request, user_id: uuid.UUID, payload: ReasonIn | None = None):
        kwargs = {"actor": actor_of(request), "user": get_user(user_id, include_deleted=True)}
        if payload is not None and payload.reason and service is not user_force_password_change:
            kwargs["reason"] = payload.reason
        if not include_deleted and kwargs["user"].deleted_at:
            raise Http404("No user with this id.")
        service(**kwargs)
        return Status(200, user_out(User.objects.get(pk=user_id)))

    return handler


_status_action("unban", user_unban, "Unban a user")
_status_action("disable", user_disable, "Disable a user")
_status_action("enable", user_enable, "Enable a user")
_status_action("force-password-change", user_force_password_change, "Force a password change")
_status_action("restore", user_restore, "Restore a deleted user", include_deleted=True)


@users_router.post("/{uuid:user_id}/ban", response=responses(200, UserOut), summary="Ban a user")
def ban_user(request, user_id: uuid.UUID, payload: BanIn):
    until = payload.until
    if payload.duration_hours:
        until = timezone.now() + timedelta(hours=payload.duration_hours)
    user_ban(actor=actor_of(request), user=get_user(user_id), until=until, reason=payload.reason)
    return Status(200, user_out(User.objects.get(pk=user_id)))


@users_router.post(
    "/{uuid:user_id}/password", response=responses(200, OkOut), summary="Set a password directly"
)
def set_password(request, user_id: uuid.UUID, payload: PasswordIn):
    password_set_by_admin(
        actor=actor_of(request), user=get_user(user_id), password=payload.password
    )
    return Status(200, {"success": True, "detail": "Password set; the user's sessions were ended."})


@users_router.post(
    "/{uuid:user_id}/reset-token",
    response=responses(201, ResetTokenOut),
    summary="Create a one-time password reset token",
)
def reset_token(request, user_id: uuid.UUID, payload: ResetTokenIn | None = None):
    result = password_reset_token_create(
        actor=actor_of(request),
        user=get_user(user_id),
        send_email=bool(payload and payload.send_email),
    )
    return Status(201, result)


@users_router.post(
    "/{uuid:user_id}/magic-link", response=responses(200, MagicLinkOut), summary="Send a magic link"
)
def magic_link(request, user_id: uuid.UUID, payload: MagicLinkIn):
    link = magic_link_send(actor=actor_of(request), user=get_user(user_id), type=payload.type)
    return Status(200, {"success": True, "type": payload.type, "magic_link": link})


@users_router.get(
    "/{uuid:user_id}/sessions", response=responses(200, list[SessionOut]), summary="List sessions"
)
def list_sessions(request, user_id: uuid.UUID):
    user = get_user(user_id)
    require(request, "sessions:read", action="accounts.session.listed", target=user)
    return Status(
        200,
        list(
            UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at")
        ),
    )


@users_router.delete(
    "/{uuid:user_id}/sessions/{session_id}", response={204: None, **ERRORS}, summary="End a session"
)
def revoke_session(request, user_id: uuid.UUID, session_id: int, payload: ReauthIn | None = None):
    user = get_user(user_id)
    session = get_object_or_404(UserSession, pk=session_id, user=user, ended_at__isnull=True)
    session_revoke(actor=actor_of(request), session=session, current_password=_password(payload))
    return Status(204, None)


@users_router.delete(
    "/{uuid:user_id}/sessions", response={204: None, **ERRORS}, summary="End all sessions"
)
def revoke_sessions(request, user_id: uuid.UUID, payload: ReauthIn | None = None):
    sessions_revoke_all(
        actor=actor_of(request), user=get_user(user_id), current_password=_password(payload)
    )
    return Status(204, None)


@users_router.get(
    "/{uuid:user_id}/mfa", response=responses(200, list[FactorOut]), summary="List MFA factors"
)
def list_factors(request, user_id: uuid.UUID):
    user = get_user(user_id)
    require(request, "mfa:read", action="accounts.mfa.listed", target=user)
    return Status(
        200,
        [
            {"id": f.id, "type": f.kind, "name": f.label, "confirmed": True}
            for f in factors_for_user(user)
        ],
    )


@users_router.delete(
    "/{uuid:user_id}/mfa/{factor_id}",
    response={204: None, **ERRORS},
    summary="Remove an MFA factor",
)
def remove_factor(request, user_id: uuid.UUID, factor_id: str, payload: ReauthIn | None = None):
    mfa_device_remove(
        actor=actor_of(request),
        user=get_user(user_id),
        device_id=factor_id,
        current_password=_password(payload),
    )
    return Status(204, None)


@users_router.get(
    "/{uuid:user_id}/export",
    response=responses(200, UserExportOut),
    summary="Export a user's personal data",
)
def export_user(request, user_id: uuid.UUID):
    return user_data_exported(actor=actor_of(request), user=get_user(user_id, include_deleted=True))


# --- batch ---------------------------------------------------------------------


@batch_router.post("/{action}", response=responses(200, BatchOut), summary="Batch action")
def batch(request, action: str, payload: BatchIn):
    action = action.replace("-", "_")
    if action not in ACTIONS:
        names = ", ".join(a.replace("_", "-") for a in ACTIONS)
        raise ApiError(404, "unknown_action", f"Unknown batch action. Use one of: {names}.")
    params = {"reason": payload.reason}
    if payload.role:
        params["role"] = payload.role
    if payload.duration_hours:
        params["until"] = (timezone.now() + timedelta(hours=payload.duration_hours)).isoformat()
    result = batch_run(
        actor=actor_of(request),
        action=action,
        user_ids=payload.user_ids,
        params=params,
        dry_run=payload.dry_run,
    )
    return Status(
        200,
        {
            "success": result["success"],
            "processed": result["processed"],
            "skipped": result["skipped"],
            "errors": result["errors"],
            "items": result["items"],
            "dry_run": payload.dry_run,
        },
    )


# --- invitations ---------------------------------------------------------------------


@invitations_router.get("", response=responses(200, list[InvitationOut]))
def list_invitations(request, status: str = "", limit: int = 50, before: str = ""):
    require(request, "invitations:read", action="accounts.invitation.listed")
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_LIMIT}.")
    qs = Invitation.objects.prefetch_related("roles").order_by("-created_at", "-id")
    now = timezone.now()
    filters = {
        "pending": {"accepted_at__isnull": True, "revoked_at__isnull": True, "expires_at__gt": now},
        "accepted": {"accepted_at__isnull": False},
        "revoked": {"revoked_at__isnull": False, "accepted_at__isnull": True},
        "expired": {
            "accepted_at__isnull": True,
            "revoked_at__isnull": True,
            "expires_at__lte": now,
        },
    }
    if status:
        if status not in filters:
            raise ApiError(400, "validation_error", "status must be one of: " + ", ".join(filters))
        qs = qs.filter(**filters[status])
    return Status(200, [invitation_out(i) for i in qs[:limit]])


@invitations_router.post("", response=responses(201, InvitationCreatedOut))
def create_invitation(request, payload: InvitationCreateIn):
    expires_in = timedelta(days=payload.expires_in_days) if payload.expires_in_days else None
    invitation, link = invitation_create(
        actor=actor_of(request),
        email=payload.email,
        name=payload.name,
        roles=payload.roles,
        template=payload.template,
        permissions=payload.permissions,
        expires_in=expires_in,
    )
    return Status(201, {**invitation_out(invitation), "link": link})


def _get_invitation(invitation_id) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation_id)


@invitations_router.get("/{uuid:invitation_id}", response=responses(200, InvitationOut))
def get_invitation(request, invitation_id: uuid.UUID):
    require(request, "invitations:read", action="accounts.invitation.viewed")
    return Status(200, invitation_out(_get_invitation(invitation_id)))


@invitations_router.post("/{uuid:invitation_id}/resend", response=responses(200, InvitationOut))
def resend_invitation(request, invitation_id: uuid.UUID):
    result = invitation_resend(actor=actor_of(request), invitation=_get_invitation(invitation_id))
    invitation = result[0] if isinstance(result, tuple) else result
    return Status(200, invitation_out(Invitation.objects.get(pk=invitation.pk)))


@invitations_router.post("/{uuid:invitation_id}/revoke", response=responses(200, InvitationOut))
def revoke_invitation(request, invitation_id: uuid.UUID):
    invitation_revoke(actor=actor_of(request), invitation=_get_invitation(invitation_id))
    return Status(200, invitation_out(Invitation.objects.get(pk=invitation_id)))


# --- API keys ------------------------------------------------------------------------


@api_keys_router.get("", response=responses(200, list[ApiKeyOut]))
def list_api_keys(request):
    require(request, "api-keys:read", action="accounts.api_key.listed")
    keys = ApiKey.objects.select_related("user").order_by("-created_at")[:MAX_LIMIT]
    return Status(200, [api_key_out(k) for k in keys])


@api_keys_router.post("", response=responses(201, ApiKeyCreatedOut))
def create_api_key(request, payload: ApiKeyCreateIn):
    key, raw = api_key_create(
        actor=actor_of(request),
        name=payload.name,
        scopes=payload.permissions,
        template=payload.template,
        expires_in_days=payload.expires_in_days,
    )
    return Status(201, {**api_key_out(key), "key": raw})


@api_keys_router.delete("/{uuid:key_id}", response={204: None, **ERRORS})
def revoke_api_key(request, key_id: uuid.UUID, payload: ReauthIn | None = None):
    key = get_object_or_404(ApiKey, pk=key_id)
    api_key_revoke(actor=actor_of(request), key=key, current_password=_password(payload))
    return Status(204, None)


# --- public auth -----------------------------------------------------------------------


def _rate_limit(request, scope: str, email: str = "") -> None:
    keys = [f"{scope}:ip:{client_ip(request)}"]
    if email:
        keys.append(f"{scope}:email:{email.strip().lower()}")
    if too_many(keys):
        raise ApiError(429, "rate_limited", "Too many requests; try again later.")


@auth_router.post("/password/forgot", response=responses(202, OkOut, rate_limited=True))
def forgot_password(request, payload: ForgotIn):
    try:
        password_reset_request(email=payload.email, ip=client_ip(request))
    except TooManyRequests as exc:
        raise ApiError(429, "rate_limited", exc.message) from exc
    return Status(
        202,
        {
            "success": True,
            "detail": "If an account exists for this address, a reset link is on its way.",
        },
    )


@auth_router.post("/password/reset", response=responses(200, OkOut, rate_limited=True))
def reset_password(request, payload: ResetIn):
    _rate_limit(request, "reset")
    password_reset_complete(token=payload.token, password=payload.password)
    return Status(
        200, {"success": True, "detail": "Password changed. Sign in with the new password."}
    )


@auth_router.post("/invitations/accept", response=responses(201, UserOut, rate_limited=True))
def accept_invitation(request, payload: AcceptIn):
    _rate_limit(request, "accept")
    user = invitation_accept(token=payload.token, name=payload.name, password=payload.password)
    return Status(201, user_out(user))
