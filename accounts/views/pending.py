"""The sign-in in progress between the password and the second factor:
who entered the right password in this browser, for a few minutes. The
code step (`accounts.views.auth`) and the passkey step
(`accounts.views.passkeys`) both read it."""

from __future__ import annotations

import time

from accounts.models import User

GENERIC_LOGIN_ERROR = "Incorrect email or password, or this account cannot sign in right now."

PENDING_KEY = "mfa_pending"
# How long the password step stays good while the code is awaited.
PENDING_SECONDS = 5 * 60


def set_pending(request, user, *, next_url: str) -> None:
    request.session[PENDING_KEY] = {
        "user": str(user.pk),
        "at": int(time.time()),
        "next": next_url,
    }


def pending_user(request):
    """The user who entered the right password in this browser in the last
    few minutes, or (step-up) the signed-in user whose session is not yet
    verified although they have a factor. None otherwise."""
    if request.user.is_authenticated:
        return request.user if not request.user.is_verified() else None
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending.get("user")).first()
    return user if user is not None and user.is_active else None
