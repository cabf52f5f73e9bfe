"""`/api/admin/users/...`: users, their per-user actions, sessions, MFA
factors and the personal data export."""

from __future__ import annotations

import uuid
from typing import Literal
from urllib.parse import urlencode

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Router, Status

from accounts import selectors
from accounts.api.common import (
    actor_of,
    get_user,
    reauth_password,
    require,
    user_out,
    users_out,
)
from accounts.api.schemas import (
    FactorOut,
    OkOut,
    PasswordIn,
    PermissionsPatchIn,
    ReauthIn,
    SessionOut,
    TransferIn,
    UserCreateIn,
    UserExportOut,
    UserOut,
    UserUpdateIn,
)
from accounts.api.user_actions import add_action_routes
from accounts.models import User, UserSession, UserStatus
from accounts.security import factors_for_user
from accounts.selectors.export import user_csv_lines
from accounts.services.exports import user_data_access_request, user_list_exported
from accounts.services.invitations import invitation_create
from accounts.services.mfa import mfa_device_remove
from accounts.services.passwords import (
    password_set_by_admin,
)
from accounts.services.sessions import session_revoke, sessions_revoke_all
from accounts.services.users import (
    user_create,
    user_update,
)
from audit import events
from core.api_errors import ERRORS, ApiError, DateParam, Limit, check_limit, responses
from rbac import policies
from rbac.services import ownership_transfer, user_permissions_update

router = Router(tags=["users"])


@router.post("", response=responses(201, UserOut), summary="Create a user")
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


# The list's sort orders, as the page offers them (`selectors.SORT_CHOICES`).
Sort = Literal[
    "-created", "created", "-last_login", "last_login", "email", "-email", "name", "-name"
]
Mfa = Literal["on", "off"]


def _filters(q, status, role, mfa, inactive_before, sort) -> selectors.UserFilters:
    return selectors.UserFilters(
        q=q,
        status=status or "",
        role=role,
        mfa=mfa or "",
        inactive_before=inactive_before,
        sort=sort,
    )


@router.get("", response=responses(200, list[UserOut]), summary="List users")
def list_users(
    request,
    response: HttpResponse,
    q: str = "",
    status: UserStatus | None = None,
    role: str = "",
    organization: str = "",
    mfa: Mfa | None = None,
    inactive_before: DateParam | None = None,
    sort: Sort = "-created",
    limit: Limit = 50,
    cursor: str = "",
):
    """The users list as the page filters it: `mfa` on or off, no sign-in
    since `inactive_before` (never signed in included), `sort` one of the
    page's orders. A next page is in the `Link` header."""
    require(request, "users:read", action=events.USER_LISTED)
    check_limit(limit)
    filters = _filters(q, status, role, mfa, inactive_before, sort)
    filters.organization = organization
    filters.size = limit  # the API allows any size up to MAX_LIMIT
    page = selectors.user_list(filters, actor=actor_of(request), cursor=cursor[:500])
    if page.next_cursor:
        given = {
            "q": q,
            "status": status or "",
            "role": role,
            "organization": organization,
            "mfa": mfa,
            "inactive_before": inactive_before and inactive_before.isoformat(),
            "sort": sort if sort != selectors.DEFAULT_SORT else "",
        }
        query = urlencode(
            {k: v for k, v in given.items() if v} | {"limit": limit, "cursor": page.next_cursor}
        )
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    return Status(200, users_out(page.users))


@router.get(
    "/export",
    response={200: str, **ERRORS},
    summary="Export the users list as CSV",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The matching users, newest first, streamed.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_users(
    request,
    q: str = "",
    status: UserStatus | None = None,
    role: str = "",
    mfa: Mfa | None = None,
    inactive_before: DateParam | None = None,
    sort: Sort = "-created",
):
    """Every user matching the filters (the list's, within the key's
    reach), streamed as CSV; recorded in the audit log like the page's
    export. Needs `users:export`."""
    filters = _filters(q, status, role, mfa, inactive_before, sort)
    user_list_exported(actor=actor_of(request), filters=filters.__dict__)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    answer = StreamingHttpResponse(
        user_csv_lines(filters, actor=actor_of(request)), content_type="text/csv; charset=utf-8"
    )
    answer["Content-Disposition"] = f'attachment; filename="users-{stamp}.csv"'
    answer["Cache-Control"] = "no-store"
    return answer


@router.get("/{uuid:user_id}", response=responses(200, UserOut), summary="Get a user")
def get_user_view(request, user_id: uuid.UUID):
    require(request, "users:read", action=events.USER_VIEWED)
    return Status(200, user_out(get_user(request, user_id)))


@router.patch("/{uuid:user_id}", response=responses(200, UserOut), summary="Update a profile")
def update_user(request, user_id: uuid.UUID, payload: UserUpdateIn):
    user = user_update(
        actor=actor_of(request),
        user=get_user(request, user_id),
        **payload.model_dump(exclude_unset=True),
    )
    return Status(200, user_out(user))


@router.patch(
    "/{uuid:user_id}/permissions", response=responses(200, UserOut), summary="Grant or revoke"
)
def patch_permissions(request, user_id: uuid.UUID, payload: PermissionsPatchIn):
    try:
        user = user_permissions_update(
            actor=actor_of(request),
            user=get_user(request, user_id),
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


@router.post("/transfer-super", response=responses(200, UserOut), summary="Transfer ownership")
def transfer_super(request, payload: TransferIn):
    target = get_user(request, payload.target_user_id)
    actor = actor_of(request)
    # A key is not the person: the owner's password must come with it.
    ownership_transfer(
        actor=actor, target=target, password=payload.current_password or payload.password
    )
    return Status(200, user_out(User.objects.get(pk=target.pk)))


@router.post(
    "/{uuid:user_id}/password", response=responses(200, OkOut), summary="Set a password directly"
)
def set_password(request, user_id: uuid.UUID, payload: PasswordIn):
    password_set_by_admin(
        actor=actor_of(request), user=get_user(request, user_id), password=payload.password
    )
    return Status(200, {"success": True, "detail": "Password set; the user's sessions were ended."})


@router.get(
    "/{uuid:user_id}/sessions", response=responses(200, list[SessionOut]), summary="List sessions"
)
def list_sessions(request, user_id: uuid.UUID):
    user = get_user(request, user_id)
    require(request, "sessions:read", action=events.SESSION_LISTED, target=user)
    return Status(
        200,
        list(
            UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen_at")
        ),
    )


@router.delete(
    "/{uuid:user_id}/sessions/{session_id}", response={204: None, **ERRORS}, summary="End a session"
)
def revoke_session(request, user_id: uuid.UUID, session_id: int, payload: ReauthIn | None = None):
    session_revoke(
        actor=actor_of(request),
        user=get_user(request, user_id),
        session_id=session_id,
        current_password=reauth_password(payload),
    )
    return Status(204, None)


@router.delete(
    "/{uuid:user_id}/sessions", response={204: None, **ERRORS}, summary="End all sessions"
)
def revoke_sessions(request, user_id: uuid.UUID, payload: ReauthIn | None = None):
    sessions_revoke_all(
        actor=actor_of(request),
        user=get_user(request, user_id),
        current_password=reauth_password(payload),
    )
    return Status(204, None)


@router.get(
    "/{uuid:user_id}/mfa", response=responses(200, list[FactorOut]), summary="List MFA factors"
)
def list_factors(request, user_id: uuid.UUID):
    user = get_user(request, user_id)
    require(request, "mfa:read", action=events.MFA_LISTED, target=user)
    return Status(
        200,
        [
            {"id": f.id, "type": f.kind, "name": f.label, "confirmed": True}
            for f in factors_for_user(user)
        ],
    )


@router.delete(
    "/{uuid:user_id}/mfa/{factor_id}",
    response={204: None, **ERRORS},
    summary="Remove an MFA factor",
)
def remove_factor(request, user_id: uuid.UUID, factor_id: str, payload: ReauthIn | None = None):
    mfa_device_remove(
        actor=actor_of(request),
        user=get_user(request, user_id),
        device_id=factor_id,
        current_password=reauth_password(payload),
    )
    return Status(204, None)


@router.get(
    "/{uuid:user_id}/export",
    response=responses(200, UserExportOut),
    summary="Export a user's personal data",
)
def export_user(request, user_id: uuid.UUID):
    return user_data_access_request(
        actor=actor_of(request), user=get_user(request, user_id, include_deleted=True)
    )


# The declared actions on a user (ban, delete, reset-token, ...): one route
# each, made from `accounts.services.actions`.
add_action_routes(router)
