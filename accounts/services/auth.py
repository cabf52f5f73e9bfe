"""Sign-in and sign-out: the session side of authentication and its
audit records."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import login, logout
from django.contrib.auth.signals import user_login_failed
from django_otp import login as otp_login

from accounts.models import User, normalize_email
from accounts.security import recovery_codes_left
from accounts.services import throttling
from accounts.services.devices import device_sign_in
from accounts.services.sessions import session_end_by_key, session_follow, session_record
from audit import events
from audit import services as audit
from audit.services import Target


def _target_for_email(email: str):
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is not None:
        return user, user
    return None, Target(type="user", id="", label=normalize_email(email))


def login_succeeded(request, user, *, method: str = "password", device=None) -> None:
    """Start the session (a new key: no fixation) and record the sign-in.
    With `device` (the OTP device that accepted the code) the session is
    OTP-verified through django-otp's own `login` helper."""

    old_key = request.session.session_key
    login(request, user, backend="accounts.backends.EmailBackend")
    if old_key and request.session.session_key == old_key:
        # login() keeps the key of a session already signed in as this user
        # (the code step of a password-only session); one that proves more
        # gets a new key all the same.
        request.session.cycle_key()
    # The row of a session this user was already signed in with follows its
    # new key; any other is over.
    session_follow(old_key=old_key, new_key=request.session.session_key, user=user)
    if device is not None:
        otp_login(request, device)
    session_record(request=request, user=user)
    changes = {"method": method}
    if device_sign_in(request, user):
        changes["new_device"] = True
    if method == "recovery_code":
        changes["recovery_codes_left"] = recovery_codes_left(user)
    # Sign-in never waits on the audit chain's lock: nothing that writes an
    # event does (audit/services/sealer.py).
    audit.record(events.LOGIN_SUCCEEDED, actor=user, target=user, changes=changes)


def code_failed(request, user, *, reason: str, throttled: bool = False) -> None:
    """A wrong second-factor code: recorded like a failed sign-in, counted
    by django-axes towards the account's lockout (the same counter as wrong
    passwords) and spent from the address's sign-in budget, so codes cannot
    be guessed faster than passwords. A refusal by django-otp's throttle
    checked no code and spends nothing."""

    audit.record(
        events.LOGIN_FAILED,
        actor=None,
        actor_label=user.email,
        target=user,
        outcome="denied" if throttled else "failed",
        reason=reason,
    )
    if not throttled:
        throttling.signin_failed(request)
        user_login_failed.send(sender=__name__, credentials={"email": user.email}, request=request)


def account_locked(request, user) -> bool:
    """Whether django-axes has locked `user`'s account."""

    return AxesProxyHandler.is_locked(request, credentials={"email": user.email})


def login_failed(*, email: str, locked_out: bool) -> None:
    user, target = _target_for_email(email)
    if locked_out:
        audit.record(
            events.LOGIN_LOCKED_OUT,
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
        events.LOGIN_FAILED,
        actor=None,
        actor_label=normalize_email(email)[:300],
        target=target,
        outcome="failed",
        reason=reason,
    )


def logout_user(request) -> None:

    user = request.user
    if user.is_authenticated:
        audit.record(events.LOGOUT, actor=user, target=user)
        session_end_by_key(request.session.session_key)
    logout(request)
