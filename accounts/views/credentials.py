"""Per-user credential actions for administrators, from the user page:
set a password directly, create a one-time reset link (shown once), send a
sign-in link."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import MagicLinkForm
from accounts.models import User
from accounts.services import passwords
from accounts.views.public import NewPasswordForm
from rbac.decorators import forbidden, permission_required
from rbac.policies import PolicyDenied

app_name = "credentials"


def user_page(user) -> str:
    try:
        return reverse("users:detail", args=[user.pk])
    except NoReverseMatch:
        return reverse("overview")


def _subject(pk) -> User:
    return get_object_or_404(User, pk=pk)


@permission_required("users:reset-password")
@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_set(request, user_id):
    subject = _subject(user_id)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_set_by_admin(
                actor=request.user, user=subject, password=form.cleaned_data["password1"]
            )
        except PolicyDenied as exc:
            return forbidden(request, message=exc.message)
        except ValidationError as exc:
            form.add_error("password1", exc.messages)
        else:
            messages.success(
                request,
                f"The password of {subject.email} was changed. Their sessions were signed out "
                "and they were told by email.",
            )
            return redirect(user_page(subject))
    return render(
        request,
        "users/credentials_password.html",
        {"subject": subject, "form": form, "back": user_page(subject)},
        status=400 if form.errors else 200,
    )


@permission_required("users:reset-password")
@never_cache
@require_POST
def reset_link_create(request, user_id):
    subject = _subject(user_id)
    try:
        result = passwords.password_reset_token_create(
            actor=request.user, user=subject, send_email=bool(request.POST.get("send_email"))
        )
    except PolicyDenied as exc:
        return forbidden(request, message=exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(user_page(subject))
    return render(
        request,
        "users/credentials_link.html",
        {
            "subject": subject,
            "title": "Password reset link",
            "link": result["link"],
            "expires_at": result["expires_at"],
            "emailed": bool(request.POST.get("send_email")),
            "back": user_page(subject),
        },
    )


@permission_required("users:reset-password")
@never_cache
@require_POST
def magic_link_send(request, user_id):
    subject = _subject(user_id)
    form = MagicLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the kind of link to send.")
        return redirect(user_page(subject))
    try:
        link = passwords.magic_link_send(
            actor=request.user, user=subject, type=form.cleaned_data["type"]
        )
    except PolicyDenied as exc:
        return forbidden(request, message=exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(user_page(subject))
    return render(
        request,
        "users/credentials_link.html",
        {
            "subject": subject,
            "title": "Sign-in link sent",
            "link": link,
            "emailed": True,
            "back": user_page(subject),
        },
    )


urlpatterns = [
    path("<uuid:user_id>/credentials/password/", password_set, name="password_set"),
    path("<uuid:user_id>/credentials/reset-link/", reset_link_create, name="reset_link"),
    path("<uuid:user_id>/credentials/magic-link/", magic_link_send, name="magic_link"),
]
