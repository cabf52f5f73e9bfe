"""Sign-in and sign-out: the session side of authentication and its
audit records."""

from __future__ import annotations

from django.contrib.auth import login, logout
from django.utils import timezone

from accounts.models import User, normalize_email
from audit import services as audit
from audit.services import Target


def _target_for_email(email: str):
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is not None:
        return user, user
    return None, Target(type="user", id="", label=normalize_email(email))


def login_succeeded(request, user, *, method: str = "password") -> None:
    """Start the session (a new key: no fixation) and record the sign-in."""
    from accounts.services.sessions import session_record

    login(request, user, backend="accounts.backends.EmailBackend")
    session_record(request=request, user=user)
    audit.record("accounts.login.succeeded", actor=user, target=user, changes={"method": method})


def login_failed(*, email: str, locked_out: bool) -> None:
    user, target = _target_for_email(email)
    if locked_out:
        audit.record(
            "accounts.login.locked_out",
            actor=None,
            actor_label=target.label if hasattr(target, "label") else str(target),
            target=target,
            outcome="denied",
            reason="Too many failed sign-ins for this account.",
        )
        return
    if user is None:
        reason = "Unknown email."
    elif user.has_usable_password() and not user.is_active:
        reason = f"Account is {user.status}."
    else:
        reason = "Wrong password."
    audit.record(
        "accounts.login.failed",
        actor=None,
        actor_label=normalize_email(email)[:300],
        target=target,
        outcome="failed",
        reason=reason,
    )


def logout_user(request) -> None:
    from accounts.models import UserSession

    user = request.user
    if user.is_authenticated:
        audit.record("accounts.logout", actor=user, target=user)
        UserSession.objects.filter(session_key=request.session.session_key).update(
            ended_at=timezone.now()
        )
    logout(request)
