"""/account/: the signed-in user's own profile, password, two-factor
authentication and sessions."""

from __future__ import annotations

import time
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts.models import UserSession
from accounts.reauth import reauth_required
from accounts.security import (
    describe_user_agent,
    factor_device,
    factors_for_user,
    has_mfa,
    mfa_required,
    open_sessions,
    recovery_codes_left,
)
from accounts.services import account as account_services
from accounts.services import auth as auth_services
from accounts.services import mfa as mfa_services
from accounts.services import sessions as session_services
from accounts.views.auth import safe_next
from rbac.decorators import signed_in
from rbac.policies import PolicyDenied

app_name = "account"

# Fresh recovery codes wait in the session this long, to be read and
# downloaded once; they are not stored anywhere else in clear.
CODES_KEY = "new_recovery_codes"
CODES_SECONDS = 10 * 60


# --- forms -------------------------------------------------------------------------


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False)
    phone = forms.CharField(max_length=32, required=False, label="Phone")


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters, not a common password.",
    )
    new_password_again = forms.CharField(
        strip=False,
        max_length=1024,
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", "The two new passwords differ.")
        return data


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(
        label="New email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text="We send a link to the new address to verify it, and tell the old one.",
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "spellcheck": "false",
            }
        ),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    code = forms.CharField(
        label="Code from your authenticator app (or a recovery code)",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )


def _add_css(form):
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control")
    return form


# --- helpers -------------------------------------------------------------------------


def _enrolment(request, device) -> dict:
    """What the enrolment card shows: the QR code as inline SVG (segno; no
    style attributes, CSP) and the secret for typing in by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    qr = segno.make(device.config_url, error="m", micro=False)
    svg = qr.svg_inline(
        scale=5,
        border=2,
        dark="#1e2433",
        light="#ffffff",
        title="QR code to add Handover to your authenticator app",
    )
    return {
        "device": device,
        # segno's own markup; the QR encodes the otpauth URL, the SVG text
        # holds no user data.
        "qr_svg": mark_safe(svg),  # noqa: S308
        "secret": secret,
        "secret_grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


def _keep_codes(request, codes: list[str]) -> None:
    request.session[CODES_KEY] = {"codes": codes, "at": int(time.time())}


def _fresh_codes(request) -> list[str] | None:
    held = request.session.get(CODES_KEY) or {}
    if not held or time.time() - held.get("at", 0) > CODES_SECONDS:
        request.session.pop(CODES_KEY, None)
        return None
    return held.get("codes")


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


def _confirm(request, *, title, message, button, cancel_url, danger=True):
    return render(
        request,
        "account/confirm.html",
        {
            "title": title,
            "message": message,
            "button": button,
            "cancel_url": cancel_url,
            "danger": danger,
        },
    )


# --- pages ---------------------------------------------------------------------------


def _home_context(request, **overrides) -> dict:
    user = request.user
    enrolled = has_mfa(user)
    ctx = {
        "profile_form": _add_css(ProfileForm(initial={"name": user.name, "phone": user.phone})),
        "password_form": _add_css(PasswordChangeForm()),
        "has_mfa": enrolled,
        "mfa_required": mfa_required(user),
        "factors": factors_for_user(user) if enrolled else [],
        "recovery_codes_left": recovery_codes_left(user) if enrolled else 0,
        "sessions": _sessions(request, user),
        "code_form": _add_css(CodeForm()),
    }
    if not enrolled:
        ctx["enrol"] = _enrolment(request, mfa_services.totp_enrol_begin(actor=user))
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
    form = _add_css(ProfileForm(request.POST))
    if not form.is_valid():
        return render(request, "account/home.html", _home_context(request, profile_form=form))
    account_services.account_profile_update(
        actor=request.user, name=form.cleaned_data["name"], phone=form.cleaned_data["phone"]
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
    form = _add_css(EmailChangeForm(request.POST or None))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = account_services.account_email_change(
                    actor=request.user, new_email=form.cleaned_data["new_email"]
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
                "form": _add_css(PasswordChangeForm()),
                "forced": request.user.must_change_password,
            },
        )
    forced = request.user.must_change_password
    form = _add_css(PasswordChangeForm(request.POST))
    if form.is_valid():
        try:
            user = account_services.account_password_change(
                actor=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session_key=request.session.session_key,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            update_session_auth_hash(request, user)
            messages.success(
                request, "Your password was changed. Your other sessions were signed out."
            )
            if forced:
                return redirect(safe_next(request, fallback=reverse("overview")))
            return redirect("account:home")
    if forced or request.POST.get("standalone"):
        return render(
            request, "account/password.html", {"form": form, "forced": forced}, status=400
        )
    return render(
        request, "account/home.html", _home_context(request, password_form=form), status=400
    )


@signed_in
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    """Set up the authenticator app: scan, then confirm with a code. Also
    where MFAPolicyMiddleware sends users who must have MFA."""
    user = request.user
    next_url = safe_next(request, fallback=reverse("account:home"))
    if has_mfa(user) and request.method == "GET":
        return redirect(next_url)
    device = mfa_services.totp_enrol_begin(actor=user)
    form = _add_css(CodeForm(request.POST or None))
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa_services.totp_enrol_confirm(
                actor=user, device=device, code=form.cleaned_data["code"]
            )
        except ValidationError as exc:
            form.add_error("code", exc.messages)
            status = 400
        else:
            device.refresh_from_db()
            otp_login(request, device)
            _keep_codes(request, codes)
            messages.success(request, "Two-factor authentication is on.")
            query = urlencode({"next": next_url})
            return redirect(f"{reverse('account:recovery_codes')}?{query}")
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "account/mfa_setup.html",
        {
            "enrol": _enrolment(request, device),
            "code_form": form,
            "next": next_url,
            "mfa_required": mfa_required(user),
        },
        status=status,
    )


@signed_in
@never_cache
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """Fresh recovery codes, shown once: they stay readable (and
    downloadable) in this session until dismissed or ten minutes pass."""
    next_url = safe_next(request, fallback=reverse("account:home"))
    if request.method == "POST":
        request.session.pop(CODES_KEY, None)
        return redirect(next_url)
    return render(
        request,
        "account/recovery_codes.html",
        {
            "codes": _fresh_codes(request),
            "next": next_url,
            "has_mfa": has_mfa(request.user),
        },
    )


@signed_in
@never_cache
@require_http_methods(["GET"])
def recovery_codes_download(request):
    codes = _fresh_codes(request)
    if not codes:
        messages.info(request, "Those recovery codes can no longer be shown. Create new ones.")
        return redirect("account:recovery_codes")
    text = (
        "Handover recovery codes for %s\n"
        "Each code works once, in place of a code from your authenticator app.\n\n%s\n"
        % (request.user.email, "\n".join(codes))
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="handover-recovery-codes.txt"'
    return response


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def recovery_codes_regenerate(request):
    if request.method == "GET":
        return _confirm(
            request,
            title="Create new recovery codes?",
            message="Your current recovery codes will stop working.",
            button="Create new codes",
            cancel_url=reverse("account:home"),
            danger=False,
        )
    try:
        codes = mfa_services.recovery_codes_regenerate(actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("account:home")
    _keep_codes(request, codes)
    return redirect("account:recovery_codes")


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def mfa_remove(request, factor_id):
    user = request.user
    device = factor_device(user, factor_id)
    if device is None:
        messages.info(request, "That factor was already removed.")
        return redirect("account:home")
    if request.method == "GET":
        warning = ""
        if mfa_required(user):
            warning = " Your role requires it, so you will be asked to set up a new one."
        return _confirm(
            request,
            title="Turn off two-factor authentication?",
            message="Signing in will only need your password; your recovery codes are "
            "removed too." + warning,
            button="Remove authenticator app",
            cancel_url=reverse("account:home"),
        )
    try:
        mfa_services.mfa_device_remove(actor=user, user=user, device_id=factor_id)
    except PolicyDenied as exc:
        messages.error(request, exc.message)
        return redirect("account:home")
    messages.success(request, "Two-factor authentication is off.")
    return redirect("account:home")


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def session_end(request, pk):
    session = get_object_or_404(UserSession, pk=pk, user=request.user, ended_at__isnull=True)
    if session.session_key == request.session.session_key:
        return redirect("logout")
    if request.method == "GET":
        return _confirm(
            request,
            title="End this session?",
            message=f"{describe_user_agent(session.user_agent)} will be signed out.",
            button="End session",
            cancel_url=reverse("account:home"),
        )
    session_services.session_revoke(actor=request.user, session=session)
    messages.success(request, "The session was ended.")
    return redirect(f"{reverse('account:home')}#sessions")


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def sessions_end_others(request):
    if request.method == "GET":
        return _confirm(
            request,
            title="Sign out everywhere else?",
            message="Every other browser signed in to your account will be signed out.",
            button="Sign out other sessions",
            cancel_url=reverse("account:home"),
        )
    ended = session_services.sessions_revoke_all(
        actor=request.user, user=request.user, except_key=request.session.session_key
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

    user = request.user
    enrolled = has_mfa(user)
    form = _add_css(ReauthForm(request.POST or None))
    next_url = safe_next(request, fallback=reverse("account:home"))
    status = 200
    if request.method == "POST" and form.is_valid():
        ok = authenticate(request, email=user.email, password=form.cleaned_data["password"])
        method = "password"
        if ok is None or ok.pk != user.pk:
            form.add_error("password", "That password is not right.")
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
                actor=user, session_key=request.session.session_key, method=method
            )
            return redirect(next_url)
        status = 400
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "account/reauth.html",
        {"form": form, "has_mfa": enrolled, "next": next_url},
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
    path("mfa/<str:factor_id>/remove/", mfa_remove, name="mfa_remove"),
    path("sessions/<int:pk>/end/", session_end, name="session_end"),
    path("sessions/end-others/", sessions_end_others, name="sessions_end_others"),
]
