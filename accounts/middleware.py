import functools
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.dateparse import parse_datetime
from django.utils.functional import empty

from accounts.models import User
from accounts.security import has_mfa, mfa_required
from accounts.services import impersonation as impersonation_services
from accounts.services.devices import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    NEW_COOKIE_SESSION_KEY,
)
from accounts.services.sessions import (
    SEEN_SESSION_KEY,
    TOUCH_INTERVAL_SECONDS,
    reauth_is_recent,
    session_touch,
)
from core.services import unless_read_only
from rbac import credentials, policies
from rbac.actor import Actor


class ActiveAccountMiddleware:
    """Ends the session of a signed-in user who may no longer sign in
    (banned, disabled, deleted) at their next request, on any web process."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_active:
            logout(request)
            request.signed_out_by_server = True
        return self.get_response(request)


class SessionActivityMiddleware:
    """The dashboard's door: builds `request.actor` (`rbac.actor.Actor`),
    who acts in this request and through what -- the signed-in person
    through this session, or an anonymous visitor. Every view, template tag
    and service call reads it (`actor=request.actor`), as it reads
    `request.user` for the person alone.

    Keeps each session's "last seen" too (written at most once a minute,
    not on every request) and signs out a session that was ended. Ending a
    session also deletes its Django session row, which signs it out on every
    web process at once; this check covers a session whose row survived."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.actor = Actor.anonymous()
        user = getattr(request, "user", None)
        key = request.session.session_key if hasattr(request, "session") else None
        if user is not None and key and user.is_authenticated:
            now = int(time.time())
            if now - int(request.session.get(SEEN_SESSION_KEY, 0)) >= TOUCH_INTERVAL_SECONDS:
                touched = None  # stays None while the database is read-only: pages still read
                with unless_read_only():
                    touched = session_touch(session_key=key, user=user)
                if touched:
                    request.session[SEEN_SESSION_KEY] = now
                elif touched is not None:
                    logout(request)
                    request.signed_out_by_server = True
                    return self.get_response(request)
            # The request acts through this session: every scope, and a
            # fresh proof when re-authenticated within the window (looked
            # up only if a guard asks).
            request.actor = Actor.for_session(
                _unwrapped(user), key, recent_proof=functools.partial(reauth_is_recent, key)
            )
            if impersonation_services.SESSION_KEY in request.session:
                request.actor = _impersonation_actor(request, request.actor)
        credentials.set_request_actor(request.actor)
        return self.get_response(request)


def _unwrapped(user):
    """The user behind `request.user`'s lazy wrapper (read by now): guards
    read the actor's person a few hundred times on a list page, and each
    read through the wrapper is a proxy call (issue 29)."""
    wrapped = getattr(user, "_wrapped", None)
    return user if wrapped is None or wrapped is empty else wrapped


def _impersonation_actor(request, operator):
    """The actor of a session viewing as someone (issue 26), or the
    operator's own when the view ends now: its time is up (recorded as
    expired), or the operator may no longer start it -- demoted, or the
    user became a peer, the owner, inactive (recorded as ended). A banned
    or signed-out operator has no session left to get here."""
    state = request.session.get(impersonation_services.SESSION_KEY) or {}
    expires = parse_datetime(str(state.get("expires", "")))
    seen = User.objects.filter(pk=state.get("user")).first() if state.get("user") else None
    if seen is None or expires is None:
        del request.session[impersonation_services.SESSION_KEY]
        return operator
    actor = Actor.for_impersonation(operator.user, seen, operator.credential.session_key, expires)
    how = None
    if impersonation_services.now() >= expires:
        how = impersonation_services.EXPIRED
    elif not seen.is_active or not policies.allows(policies.check_can_impersonate, operator, seen):
        how = impersonation_services.ENDED
    if how is None:
        return actor
    del request.session[impersonation_services.SESSION_KEY]
    with unless_read_only():
        impersonation_services.impersonation_stop(actor=actor, how=how)
    # Shown by the banner's place on the page (messages are not set up yet).
    name = seen.display_name or seen.email
    request.impersonation_notice = (
        f"Your time viewing as {name} is up: you see your own dashboard again."
        if how == impersonation_services.EXPIRED
        else f"You may no longer view as {name}: you see your own dashboard again."
    )
    return operator


class DeviceCookieMiddleware:
    """Sets the device cookie a sign-in chose for this browser
    (`accounts.services.devices`): the value waits in the session until
    this response carries it, then leaves the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and NEW_COOKIE_SESSION_KEY in session:
            response.set_cookie(
                DEVICE_COOKIE,
                session.pop(NEW_COOKIE_SESSION_KEY),
                max_age=DEVICE_COOKIE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


SIGNED_OUT_MESSAGE = "You were signed out. Sign in again to continue."


class SignedOutNoticeMiddleware:
    """Tells a browser whose session was ended elsewhere (an administrator
    ended it, banned or disabled the account, reset the password, or it
    expired) that it was signed out, instead of dropping it on the sign-in
    page without a word. The message is the same in every case, so it tells
    an anonymous visitor nothing about the account. Must come after
    AuthenticationMiddleware, the middlewares above (which set
    `signed_out_by_server`) and MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._was_signed_out(request):
            messages.info(request, SIGNED_OUT_MESSAGE)
        return self.get_response(request)

    @staticmethod
    def _was_signed_out(request) -> bool:

        if request.path_info.startswith("/api/"):
            return False
        if getattr(request, "signed_out_by_server", False):
            return True
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return False
        # The cookie names a session the server no longer has (loading it
        # cleared the key); reading request.user loaded it.
        return not request.user.is_authenticated and request.session.session_key is None


def _is_exempt(request, view_names) -> bool:
    """Whether the request is for one of `view_names` -- or for no page at
    all (the 404 answers it)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True
    return match.view_name in view_names


def _send_first_to(request, view_name: str, *, error: str, detail: str) -> HttpResponse:
    """Answer a request whose user must first visit `view_name`: the API
    gets 403 `{"error", "detail"}`, a page a redirect there that comes back
    (`next`) -- an HX-Redirect for HTMX, since HtmxMiddleware runs later."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"error": error, "detail": detail}, status=403)
    url = f"{reverse(view_name)}?{urlencode({'next': request.get_full_path()})}"
    if request.headers.get("HX-Request") == "true":
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


class MFAPolicyMiddleware:
    """Who must use a second factor uses it.

    - A signed-in user who has an authenticator app but whose session was
      not verified with a code (a session that began before the factor was
      added, or a sign-in path without the code step) reaches only the code
      step -- not even the factor pages.
    - A user whom settings.MFA_POLICY obliges to use MFA but who has no
      authenticator app is sent to set one up, and reaches nothing else
      (but signing out, and confirming their password to set it up) until
      done.

    Asked on every request of an unverified session, never remembered for
    the session: a factor added later (from another browser) must send
    this one to the code step on its next request.

    Must come after django_otp's OTPMiddleware (it reads is_verified()).
    """

    # Where a user with a factor but an unverified session may still go.
    CODE_STEP = {
        "logout",
        "login",
        "login_mfa",
        "login_passkey_begin",
        "login_passkey_complete",
        "healthz",
    }
    # Where a user who must set up a factor may still go.
    SETUP = CODE_STEP | {
        "account:reauth",
        "account:mfa_setup",
        "account:passkey_register_begin",
        "account:passkey_register_complete",
        "account:recovery_codes",
        "account:recovery_codes_download",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        target = self._redirect_for(request)
        if target is None:
            return self.get_response(request)
        return _send_first_to(
            request,
            target,
            error="mfa_required",
            detail="Two-factor authentication is required.",
        )

    def _redirect_for(self, request) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(user, "is_verified"):
            return None
        if user.is_verified() or _is_exempt(request, self.CODE_STEP):
            return None
        if has_mfa(user):
            return "login_mfa"
        if mfa_required(user) and not _is_exempt(request, self.SETUP):
            return "account:mfa_setup"
        return None


class MustChangePasswordMiddleware:
    """A user an administrator forced to change their password (or whose
    password was set for them) is sent to the change-password page after
    signing in and reaches nothing else (but signing out) until done.

    Comes after MFAPolicyMiddleware: the second factor is settled first."""

    EXEMPT = {
        "logout",
        "login",
        "login_mfa",
        "login_passkey_begin",
        "login_passkey_complete",
        "healthz",
        "account:password",
        "account:reauth",
        "account:mfa_setup",
        "account:recovery_codes",
        "account:recovery_codes_download",
    }

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.must_change_password:
            return self.get_response(request)
        if _is_exempt(request, self.EXEMPT):
            return self.get_response(request)
        return _send_first_to(
            request,
            "account:password",
            error="password_change_required",
            detail="Choose a new password first.",
        )
