"""Sign-in and sign-out pages."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import LoginForm
from accounts.services import auth as auth_services
from rbac.decorators import public

GENERIC_LOGIN_ERROR = "Incorrect email or password, or this account cannot sign in right now."


def safe_next(request, fallback=None) -> str:
    """`next` only when it points at this site; the overview otherwise."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback or settings.LOGIN_REDIRECT_URL


def _render_login(request, form, *, error: str | None = None, status: int = 200):
    return render(
        request,
        "accounts/login.html",
        {"form": form, "error": error, "next": safe_next(request, fallback="")},
        status=status,
    )


@public
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        from django.contrib.auth import authenticate

        email = form.cleaned_data["email"]
        user = authenticate(request, email=email, password=form.cleaned_data["password"])
        if user is not None:
            auth_services.login_succeeded(request, user)
            return redirect(safe_next(request))
        auth_services.login_failed(
            email=email, locked_out=bool(getattr(request, "axes_locked_out", False))
        )
        return _render_login(
            request, LoginForm(initial={"email": email}), error=GENERIC_LOGIN_ERROR
        )
    if request.method == "POST":
        return _render_login(request, form, error=GENERIC_LOGIN_ERROR)
    return _render_login(request, form)


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
    return render(request, "accounts/logout.html")


urlpatterns = [
    path("login/", login_view, name="login"),
    path("logout/", logout_view, name="logout"),
]
