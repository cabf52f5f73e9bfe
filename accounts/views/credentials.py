"""Per-user credential actions for administrators, from the user page:
set a password directly, create a one-time reset link (shown once), send a
sign-in link."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors
from accounts.forms import MagicLinkForm, NewPasswordForm
from accounts.services import passwords
from core.web import refusals
from rbac.decorators import permission_required

app_name = "credentials"


def user_page(user) -> str:
    try:
        return reverse("users:detail", args=[user.pk])
    except NoReverseMatch:
        return reverse("overview")


@permission_required("users:reset-password")
@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_set(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    form = NewPasswordForm(request.POST or None)
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        with refusals(form, field_by_code={"*": "password1"}) as outcome:
            passwords.password_set_by_admin(
                actor=request.actor, user=subject, password=form.cleaned_data["password1"]
            )
        if outcome.ok:
            messages.success(
                request,
                f"The password of {subject.email} was changed. Their sessions were signed out "
                "and they were told by email.",
            )
            return redirect(user_page(subject))
        status = outcome.status
    return render(
        request,
        "users/credentials_password.html",
        {"subject": subject, "form": form, "back": user_page(subject)},
        status=status,
    )


@permission_required("users:reset-password")
@never_cache
@require_POST
def reset_link_create(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    with refusals(request=request) as outcome:
        result = passwords.password_reset_token_create(
            actor=request.actor, user=subject, send_email=bool(request.POST.get("send_email"))
        )
    if not outcome.ok:
        return redirect(user_page(subject))
    return _link_page(
        request,
        subject,
        title="Password reset link",
        link=result["link"],
        expires_at=result["expires_at"],
        emailed=bool(request.POST.get("send_email")),
    )


def _link_page(request, subject, **context):
    """The one-time link just made, shown once (never cached)."""
    return render(
        request,
        "users/credentials_link.html",
        {"subject": subject, "back": user_page(subject), **context},
    )


@permission_required("users:reset-password")
@never_cache
@require_POST
def magic_link_send(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    form = MagicLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the kind of link to send.")
        return redirect(user_page(subject))
    with refusals(request=request) as outcome:
        link = passwords.magic_link_send(
            actor=request.actor, user=subject, type=form.cleaned_data["type"]
        )
    if not outcome.ok:
        return redirect(user_page(subject))
    return _link_page(request, subject, title="Sign-in link sent", link=link, emailed=True)


urlpatterns = [
    path("<uuid:user_id>/credentials/password/", password_set, name="password_set"),
    path("<uuid:user_id>/credentials/reset-link/", reset_link_create, name="reset_link"),
    path("<uuid:user_id>/credentials/magic-link/", magic_link_send, name="magic_link"),
]
