"""/account/: the signed-in user's own profile, password, two-factor
authentication and sessions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import CodeForm, EmailChangeForm, OwnPasswordForm, ProfileForm, ReauthForm
from accounts.models import UserSession
from accounts.reauth import reauth_required
from accounts.security import (
    describe_user_agent,
    factors_for_user,
    has_mfa,
    has_passkey,
    mfa_required,
    open_sessions,
    recovery_codes_left,
)
from accounts.services import account as account_services
from accounts.services import auth as auth_services
from accounts.services import mfa as mfa_services
from accounts.services import passkeys as passkey_services
from accounts.services import sessions as session_services
from accounts.services.sessions import reauth_is_recent
from accounts.views import passkeys
from accounts.views.account_mfa import (
    add_css,
    enrolment,
    mfa_remove,
    mfa_setup,
    pending_enrolment,
    recovery_codes,
    recovery_codes_download,
    recovery_codes_regenerate,
)
from accounts.views.account_privacy import data_download, delete_cancel, delete_request
from accounts.views.passkey_config import passkey_config
from core.web import confirm_page, safe_back
from rbac import policies
from rbac.decorators import signed_in

app_name = "account"

# Fresh recovery codes wait in the session this long, to be read and
# downloaded once; they are not stored anywhere else in clear.

# --- helpers -------------------------------------------------------------------------


def _sessions(request, user):
    current = request.session.session_key
    rows = []
    for s in open_sessions(user):
        rows.append(
            {
                "obj": s,
                "device": describe_user_agent(s.user_agent),
                "current": s.session_key == current,
            }
        )
    rows.sort(key=lambda r: not r["current"])
    return rows


# --- pages ---------------------------------------------------------------------------


def _home_context(request, **overrides) -> dict:
    user = request.actor.person
    enrolled = has_mfa(user)
    ctx = {
        "profile_form": add_css(ProfileForm(initial={"name": user.name, "phone": user.phone})),
        "password_form": add_css(OwnPasswordForm()),
        "has_mfa": enrolled,
        "mfa_required": mfa_required(user),
        "factors": factors_for_user(user) if enrolled else [],
        "recovery_codes_left": recovery_codes_left(user) if enrolled else 0,
        "sessions": _sessions(request, user),
        "code_form": add_css(CodeForm()),
    }
    # Adding a passkey is offered within the re-authentication window (the
    # guard asks for it anyway), never while viewing as someone.
    if reauth_is_recent(request.session.session_key) and policies.allows(
        policies.check_may_write, request.actor, passkey_services.passkey_register_begin
    ):
        ctx["passkey_config"] = passkey_config(request, "register")
    # The secret to scan only within the re-authentication window
    # (confirming needs a fresh proof anyway; else: a link to set up), and
    # not while viewing as someone: beginning an enrolment stores a device.
    if (
        not enrolled
        and reauth_is_recent(request.session.session_key)
        and policies.allows(policies.check_may_write, request.actor, mfa_services.totp_enrol_begin)
    ):
        ctx["enrol"] = enrolment(request, pending_enrolment(request))
    ctx.update(overrides)
    return ctx


@signed_in
@never_cache
@require_http_methods(["GET"])
def home(request):
    return render(request, "account/home.html", _home_context(request))


@signed_in
@require_http_methods(["POST"])
def profile(request):
    form = add_css(ProfileForm(request.POST))
    if not form.is_valid():
        return render(request, "account/home.html", _home_context(request, profile_form=form))
    account_services.account_profile_update(
        actor=request.actor, name=form.cleaned_data["name"], phone=form.cleaned_data["phone"]
    )
    messages.success(request, "Your profile was saved.")
    return redirect("account:home")


@signed_in
@reauth_required
@never_cache
@sensitive_post_parameters("new_email")
@require_http_methods(["GET", "POST"])
def email_change(request):
    """Change your own email address, after re-authenticating."""
    form = add_css(EmailChangeForm(request.POST or None))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = account_services.account_email_change(
                    actor=request.actor, new_email=form.cleaned_data["new_email"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request,
                    f"Your email address is now {user.email}. Open the link we sent there "
                    "to verify it.",
                )
                return redirect("account:home")
    return render(request, "account/email.html", {"form": form}, status=status)


@signed_in
@reauth_required
@never_cache
@sensitive_post_parameters("current_password", "new_password", "new_password_again")
@require_http_methods(["GET", "POST"])
def password(request):
    """Change your own password, after re-authenticating. Also where
    MustChangePasswordMiddleware sends a user an administrator forced to
    choose a new one."""
    if request.method == "GET":
        return render(
            request,
            "account/password.html",
            {
                "form": add_css(OwnPasswordForm()),
                "forced": request.actor.person.must_change_password,
            },
        )
    forced = request.actor.person.must_change_password
    form = add_css(OwnPasswordForm(request.POST))
    if form.is_valid():
        try:
            user = account_services.account_password_change(
                actor=request.actor,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session_key=request.session.session_key,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # A new key for this session (Django's update_session_auth_hash
            # cycles it); its row in the sessions list follows.
            old_key = request.session.session_key
            update_session_auth_hash(request, user)
            session_services.session_follow(
                old_key=old_key, new_key=request.session.session_key, user=user
            )
            messages.success(
                request, "Your password was changed. Your other sessions were signed out."
            )
            if forced:
                return redirect(safe_back(request, reverse("overview")))
            return redirect("account:home")
    if forced or request.POST.get("standalone"):
        return render(
            request, "account/password.html", {"form": form, "forced": forced}, status=400
        )
    return render(
        request, "account/home.html", _home_context(request, password_form=form), status=400
    )


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def session_end(request, pk):
    session = get_object_or_404(
        UserSession, pk=pk, user=request.actor.person, ended_at__isnull=True
    )
    if session.session_key == request.session.session_key:
        return redirect("logout")
    if request.method == "GET":
        return confirm_page(
            request,
            title="End this session?",
            message=f"{describe_user_agent(session.user_agent)} will be signed out.",
            button="End session",
            cancel_url=reverse("account:home"),
        )
    session_services.session_revoke(actor=request.actor, user=request.actor.person, session_id=pk)
    messages.success(request, "The session was ended.")
    return redirect(f"{reverse('account:home')}#sessions")


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def sessions_end_others(request):
    if request.method == "GET":
        return confirm_page(
            request,
            title="Sign out everywhere else?",
            message="Every other browser signed in to your account will be signed out.",
            button="Sign out other sessions",
            cancel_url=reverse("account:home"),
        )
    ended = session_services.sessions_revoke_all(
        actor=request.actor, user=request.actor.person, except_key=request.session.session_key
    )
    if ended:
        messages.success(request, f"{ended} other session{'s' if ended != 1 else ''} ended.")
    else:
        messages.info(request, "There were no other sessions.")
    return redirect(f"{reverse('account:home')}#sessions")


@signed_in
@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def reauth(request):
    """Prove it is still you: password, and a code when you have an
    authenticator app. Wrong passwords count towards the lockout (through
    authenticate and django-axes), wrong codes too."""

    user = request.user  # the session's own person, even while viewing as someone
    enrolled = has_mfa(user)
    form = add_css(ReauthForm(request.POST or None))
    next_url = safe_back(request, reverse("account:home"))
    status = 200
    if request.method == "POST" and form.is_valid():
        ok = authenticate(request, email=user.email, password=form.cleaned_data["password"])
        method = "password"
        if ok is None or ok.pk != user.pk:
            form.add_error("password", "That password is not right.")
        elif enrolled and not form.cleaned_data["code"] and passkeys.take_reauth_proof(request):
            method = "password+passkey"
        elif enrolled:
            try:
                verified = mfa_services.mfa_verify(user=user, code=form.cleaned_data["code"])
            except mfa_services.CodeRefused as refused:
                auth_services.code_failed(
                    request,
                    user,
                    reason="Wrong code (re-authentication).",
                    throttled=refused.throttled,
                )
                form.add_error("code", refused.message)
            else:
                method = f"password+{verified.method}"
        if not form.errors:
            session_services.session_reauthenticate(
                actor=request.actor, session_key=request.session.session_key, method=method
            )
            session_services.session_rotate(request)
            return redirect(next_url)
        status = 400
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "account/reauth.html",
        {
            "form": form,
            "has_mfa": enrolled,
            "next": next_url,
            "passkey_config": passkey_config(request, "reauth")
            if enrolled and has_passkey(user)
            else None,
        },
        status=status,
    )


urlpatterns = [
    path("", home, name="home"),
    path("profile/", profile, name="profile"),
    path("password/", password, name="password"),
    path("email/", email_change, name="email"),
    path("reauthenticate/", reauth, name="reauth"),
    path("mfa/setup/", mfa_setup, name="mfa_setup"),
    path("mfa/recovery-codes/", recovery_codes, name="recovery_codes"),
    path("mfa/recovery-codes/download/", recovery_codes_download, name="recovery_codes_download"),
    path(
        "mfa/recovery-codes/regenerate/",
        recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    path("mfa/passkeys/begin/", passkeys.register_begin, name="passkey_register_begin"),
    path("mfa/passkeys/complete/", passkeys.register_complete, name="passkey_register_complete"),
    path("reauthenticate/passkey/begin/", passkeys.reauth_begin, name="passkey_reauth_begin"),
    path(
        "reauthenticate/passkey/complete/",
        passkeys.reauth_complete,
        name="passkey_reauth_complete",
    ),
    path("mfa/<str:factor_id>/remove/", mfa_remove, name="mfa_remove"),
    path("sessions/<int:pk>/end/", session_end, name="session_end"),
    path("sessions/end-others/", sessions_end_others, name="sessions_end_others"),
    path("data/", data_download, name="data_download"),
    path("delete/", delete_request, name="delete"),
    path("delete/cancel/", delete_cancel, name="delete_cancel"),
]
