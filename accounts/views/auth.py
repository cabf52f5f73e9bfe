"""Sign-in and sign-out pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import LoginForm, MFACodeForm
from accounts.security import has_mfa, has_passkey, recovery_codes_left
from accounts.services import auth as auth_services
from accounts.services import throttling
from accounts.services.mfa import CodeRefused, mfa_verify
from accounts.views import passkeys
from accounts.views.passkey_config import passkey_config
from accounts.views.pending import (  # noqa: F401 (GENERIC_LOGIN_ERROR: the tests' too)
    GENERIC_LOGIN_ERROR,
    PENDING_KEY,
    pending_user,
    set_pending,
)
from core.web import safe_back
from rbac.decorators import public


def _render_login(request, form, *, error: str | None = None, status: int = 200):
    return render(
        request,
        "signin/login.html",
        {"form": form, "error": error, "next": safe_back(request, "")},
        status=status,
    )


@public
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect(safe_back(request, settings.LOGIN_REDIRECT_URL))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and throttling.signin_refused(request):
        # The address has spent its budget: refused before any password is
        # checked, in the same words whichever account was named.
        response = _render_login(request, LoginForm(), error=throttling.SIGNIN_REFUSED, status=429)
        response["Retry-After"] = str(settings.SIGNIN_FAILURE_WINDOW)
        return response
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = authenticate(request, email=email, password=form.cleaned_data["password"])
        if user is not None:
            if has_mfa(user):
                # Not signed in yet: the code comes first.
                set_pending(request, user, next_url=safe_back(request, ""))
                return redirect("login_mfa")
            auth_services.login_succeeded(request, user)
            return redirect(safe_back(request, settings.LOGIN_REDIRECT_URL))
        throttling.signin_failed(request)
        auth_services.login_failed(
            email=email, locked_out=bool(getattr(request, "axes_locked_out", False))
        )
        return _render_login(
            request, LoginForm(initial={"email": email}), error=GENERIC_LOGIN_ERROR
        )
    if request.method == "POST":
        return _render_login(request, form, error=GENERIC_LOGIN_ERROR)
    return _render_login(request, form)


# --- second step: the code ------------------------------------------------------


def _render_mfa(request, form, *, error=None, status=200, user=None):
    context = {"form": form, "error": error, "passkey_config": None}
    user = user or pending_user(request)
    if user is not None and has_passkey(user):
        context["passkey_config"] = passkey_config(request, "login")
    return render(request, "signin/login_mfa.html", context, status=status)


@public
@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_mfa_view(request):
    """Step two of signing in: a code from the authenticator app or a
    recovery code. Wrong codes are throttled by django-otp and count
    towards the account lockout and the address's sign-in budget."""
    user = pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        if request.user.is_authenticated:
            return redirect(safe_back(request, settings.LOGIN_REDIRECT_URL))
        messages.info(request, "Please sign in again.")
        return redirect("login")
    if request.method == "POST" and throttling.signin_refused(request):
        # Wrong codes spend the address's budget as wrong passwords do:
        # past it, no code is checked.
        response = _render_mfa(request, MFACodeForm(), error=throttling.SIGNIN_REFUSED, status=429)
        response["Retry-After"] = str(settings.SIGNIN_FAILURE_WINDOW)
        return response
    form = MFACodeForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        error = "Enter the code." if request.method == "POST" else None
        return _render_mfa(request, form, error=error)
    if auth_services.account_locked(request, user):
        auth_services.login_failed(email=user.email, locked_out=True)
        request.session.pop(PENDING_KEY, None)
        return _render_login(
            request, LoginForm(initial={"email": user.email}), error=GENERIC_LOGIN_ERROR
        )
    try:
        verified = mfa_verify(user=user, code=form.cleaned_data["otp_token"])
    except CodeRefused as refused:
        reason = "Code refused (throttled)." if refused.throttled else "Wrong code."
        auth_services.code_failed(request, user, reason=reason, throttled=refused.throttled)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING_KEY, None)
            return _render_login(
                request, LoginForm(initial={"email": user.email}), error=GENERIC_LOGIN_ERROR
            )
        return _render_mfa(request, MFACodeForm(), error=refused.message)
    pending = request.session.pop(PENDING_KEY, None) or {}
    auth_services.login_succeeded(request, user, method=verified.method, device=verified.device)
    if verified.method == "recovery_code":
        left = recovery_codes_left(user)
        messages.warning(
            request,
            f"You signed in with a recovery code; {left} left. "
            "Create new ones on your account page if you are running low.",
        )
    return redirect(pending.get("next") or safe_back(request, settings.LOGIN_REDIRECT_URL))


def lockout_response(request, credentials, *args, **kwargs):
    """Axes' answer for a locked account: the same page and message as a
    wrong password, so a lockout does not confirm the account exists."""
    email = (credentials or {}).get("email") or request.POST.get("email", "")
    return _render_login(request, LoginForm(initial={"email": email}), error=GENERIC_LOGIN_ERROR)


@public
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request):
    if request.method == "POST":
        auth_services.logout_user(request)
        return redirect(settings.LOGOUT_REDIRECT_URL)
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return render(request, "signin/logout.html")


urlpatterns = [
    path("login/", login_view, name="login"),
    path("logout/", logout_view, name="logout"),
    path("login/mfa/", login_mfa_view, name="login_mfa"),
    path("login/mfa/passkey/begin/", passkeys.login_begin, name="login_passkey_begin"),
    path("login/mfa/passkey/complete/", passkeys.login_complete, name="login_passkey_complete"),
]
