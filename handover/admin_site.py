"""Django admin behind the dashboard's front door.

django-otp's admin site keeps its rule (only OTP-verified sessions of
staff get in), but its own sign-in form is gone: that form wrote no audit
event, did not count towards the account lockout and asked for a device
before it knew who you were. `/admin/login/` now sends people through the
dashboard's sign-in (password, then the code step) and back to `next`;
password change and sign-out are the dashboard's too.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp.admin import OTPAdminSite

from accounts.security import has_mfa
from accounts.services import auth as auth_services
from audit import services as audit
from core.web import safe_back
from rbac.permissions import MANAGEMENT_PERMISSIONS


def _with_next(route: str, next_url: str) -> str:
    return f"{reverse(route)}?{urlencode({'next': next_url})}"


class HandoverAdminSite(OTPAdminSite):
    def has_permission(self, request):
        """Staff -- anyone whose actor holds a management permission
        globally (grants held only inside organizations do not open the
        operators' door) -- in an OTP-verified session."""
        actor = getattr(request, "actor", None)
        return (
            actor is not None
            and actor.is_active
            and bool(actor.global_permissions & MANAGEMENT_PERMISSIONS)
            and request.user.is_verified()
        )

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        """Not a sign-in form: where the visitor goes next.

        - anonymous: the dashboard's sign-in, then back to `next`;
        - signed in without admin access: told so;
        - signed in with an authenticator but not verified: the code step;
        - signed in without an authenticator: how to set one up;
        - verified staff: `next`.
        Credentials posted here are ignored: nobody signs in at this URL.
        """
        next_url = safe_back(request, reverse("admin:index", current_app=self.name))
        user = request.user
        if not user.is_authenticated:
            return HttpResponseRedirect(_with_next("login", next_url))
        if self.has_permission(request):
            return HttpResponseRedirect(next_url)
        if not (user.is_active and user.is_staff):
            audit.record(
                "rbac.page.denied",
                actor=user,
                outcome="denied",
                reason=(
                    f"permission_denied: Django admin ({next_url}) needs a management permission"
                ),
            )
            return self._refusal(request, reason="no_access")
        if has_mfa(user):
            return HttpResponseRedirect(_with_next("login_mfa", next_url))
        return self._refusal(request, reason="no_authenticator")

    def _refusal(self, request, *, reason: str):
        return render(
            request,
            "admin_door.html",
            {"reason": reason, "account_url": reverse("account:home")},
            status=403,
        )

    def logout(self, request, extra_context=None):
        """The dashboard's sign-out (audited, the session record ended)."""
        if request.method == "POST":
            auth_services.logout_user(request)
            return HttpResponseRedirect(reverse("login"))
        return HttpResponseRedirect(reverse("logout"))

    def password_change(self, request, extra_context=None):
        """The account page changes passwords through the password service
        (re-authentication, audit event, notice, old links revoked)."""
        return HttpResponseRedirect(reverse("account:password"))

    def password_change_done(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("account:password"))
