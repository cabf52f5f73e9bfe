"""/sign-in/not-me/<token>/: the "This wasn't me" link of a new-device
notice (accounts.services.devices). It asks first (a link preview or a
mail scanner opening it changes nothing), then signs out every session of
the account and takes the browser straight to choosing a new password."""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import path, reverse

from accounts.models import TokenPurpose
from accounts.services import auth as auth_services
from accounts.services.devices import sign_in_report
from accounts.services.tokens import TokenInvalid, lookup_digest, token_peek
from accounts.views.public import (
    PLACEHOLDER,
    RESET_KEY,
    _hop,
    _invalid,
    _page,
    password_token_page,
)

REPORT_KEY = "_sign_in_report_token"


@password_token_page
def not_me(request, token):
    response, token = _hop(request, token, REPORT_KEY, "sign_in_report")
    if response:
        return response
    action = {"url": reverse("password_forgot"), "label": "Reset your password"}
    if not token:
        return _invalid(request, TokenInvalid.MESSAGES["unknown"], action=action)
    try:
        row = token_peek(digest=token, purpose=TokenPurpose.SIGN_IN_REPORT)
    except TokenInvalid as exc:
        return _invalid(request, exc.message, action=action)
    if request.method == "POST":
        try:
            reset_token = sign_in_report(digest=token)
        except TokenInvalid as exc:
            return _invalid(request, exc.message, action=action)
        request.session.pop(REPORT_KEY, None)
        if request.user.is_authenticated:
            auth_services.logout_user(request)
        # Straight to choosing a new password (the reset page's own hop).
        request.session[RESET_KEY] = lookup_digest(reset_token)
        return redirect(reverse("password_reset", args=[PLACEHOLDER]))
    return _page(
        request, "public/sign_in_report.html", title="Secure your account", subject=row.user
    )


urlpatterns = [
    path("sign-in/not-me/<str:token>/", not_me, name="sign_in_report"),
]
