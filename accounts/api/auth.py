"""The public `/api/auth/...` routes (no API key): password reset and
accepting an invitation, rate limited per client and per address."""

from __future__ import annotations

from ninja import Router, Status

from accounts.api.common import user_out
from accounts.api.schemas import AcceptIn, ForgotIn, OkOut, ResetIn, UserOut
from accounts.ratelimit import client_ip, too_many
from accounts.services.invitations import invitation_accept
from accounts.services.passwords import (
    TooManyRequests,
    password_reset_complete,
    password_reset_request,
)
from core.api_errors import ApiError, responses

router = Router(tags=["public auth"], auth=None)


def _rate_limit(request, scope: str, email: str = "") -> None:
    keys = [f"{scope}:ip:{client_ip(request)}"]
    if email:
        keys.append(f"{scope}:email:{email.strip().lower()}")
    if too_many(keys):
        raise ApiError(429, "rate_limited", "Too many requests; try again later.")


@router.post("/password/forgot", response=responses(202, OkOut, rate_limited=True))
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


@router.post("/password/reset", response=responses(200, OkOut, rate_limited=True))
def reset_password(request, payload: ResetIn):
    _rate_limit(request, "reset")
    password_reset_complete(token=payload.token, password=payload.password)
    return Status(
        200, {"success": True, "detail": "Password changed. Sign in with the new password."}
    )


@router.post("/invitations/accept", response=responses(201, UserOut, rate_limited=True))
def accept_invitation(request, payload: AcceptIn):
    """Activate an invited account that has no password yet. An invitation
    into an organization for an existing account is 409
    `invitation_for_existing_account`: its invitee accepts it signed in, on
    the page the email links to."""
    _rate_limit(request, "accept")
    user = invitation_accept(token=payload.token, name=payload.name, password=payload.password)
    return Status(201, user_out(user))
