"""Your own second factor on the account page: setting up an
authenticator app, recovery codes (shown once, downloadable, replaced after
a fresh proof), removing a factor; and the confirmation page the account
views share."""

from __future__ import annotations

import time
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp_webauthn.models import WebAuthnCredential

from accounts.forms import CodeForm
from accounts.reauth import reauth_required
from accounts.security import (
    factor_device,
    factors_for_user,
    has_mfa,
    mfa_required,
)
from accounts.services import mfa as mfa_services
from accounts.services.sessions import session_rotate
from accounts.views.passkey_config import passkey_config
from core.services import NotFound, refusal_text
from core.web import confirm_page, safe_back
from rbac.decorators import signed_in
from rbac.policies import PolicyDenied

app_name = "account"

# Fresh recovery codes wait in the session this long, to be read and
# downloaded once; they are not stored anywhere else in clear.


CODES_KEY = "new_recovery_codes"
CODES_SECONDS = 10 * 60


def add_css(form):
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control")
    return form


def enrolment(request, device) -> dict:
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


# The authenticator app this browser is setting up (its pending device's
# id): the secret shown here is never the one another session is shown.
PENDING_DEVICE_KEY = "mfa_enrol_device"


def pending_enrolment(request):
    """This session's pending authenticator app, created on first use."""
    held = request.session.get(PENDING_DEVICE_KEY)
    device = mfa_services.totp_enrol_begin(actor=request.actor, device_id=held)
    if device.pk != held:
        request.session[PENDING_DEVICE_KEY] = device.pk
    return device


def keep_codes(request, codes: list[str]) -> None:
    request.session[CODES_KEY] = {"codes": codes, "at": int(time.time())}


def _fresh_codes(request) -> list[str] | None:
    held = request.session.get(CODES_KEY) or {}
    if not held or time.time() - held.get("at", 0) > CODES_SECONDS:
        request.session.pop(CODES_KEY, None)
        return None
    return held.get("codes")


@signed_in
@reauth_required
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    """Set up the authenticator app (or replace the one you have): scan,
    then confirm with a code. Also where MFAPolicyMiddleware sends users who
    must have MFA. A fresh proof first: a stolen session must not add or
    swap a factor."""
    user = request.actor.person
    next_url = safe_back(request, reverse("account:home"))
    replacing = has_mfa(user)
    device = pending_enrolment(request)
    form = add_css(CodeForm(request.POST or None))
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa_services.totp_enrol_confirm(
                actor=request.actor,
                device=device,
                code=form.cleaned_data["code"],
                keep_session_key=request.session.session_key,
            )
        except ValidationError as exc:
            form.add_error("code", exc.messages)
            status = 400
        else:
            device.refresh_from_db()
            request.session.pop(PENDING_DEVICE_KEY, None)
            otp_login(request, device)
            session_rotate(request)
            keep_codes(request, codes)
            messages.success(
                request,
                "Your new authenticator app is set up; the old one no longer works."
                if replacing
                else "Two-factor authentication is on.",
            )
            query = urlencode({"next": next_url})
            return redirect(f"{reverse('account:recovery_codes')}?{query}")
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "account/mfa_setup.html",
        {
            "enrol": enrolment(request, device),
            "code_form": form,
            "next": next_url,
            "mfa_required": mfa_required(user),
            "replacing": replacing,
            # Or a passkey as the first factor (this page is behind a fresh
            # proof already; the service's guard asks again).
            "passkey_config": passkey_config(request, "register"),
        },
        status=status,
    )


@signed_in
@never_cache
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """Fresh recovery codes, shown once: they stay readable (and
    downloadable) in this session until dismissed or ten minutes pass."""
    next_url = safe_back(request, reverse("account:home"))
    if request.method == "POST":
        request.session.pop(CODES_KEY, None)
        return redirect(next_url)
    return render(
        request,
        "account/recovery_codes.html",
        {
            "codes": _fresh_codes(request),
            "next": next_url,
            "has_mfa": has_mfa(request.actor.person),
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
        % (request.actor.person.email, "\n".join(codes))
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="handover-recovery-codes.txt"'
    return response


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def recovery_codes_regenerate(request):
    if request.method == "GET":
        return confirm_page(
            request,
            title="Create new recovery codes?",
            message="Your current recovery codes will stop working.",
            button="Create new codes",
            cancel_url=reverse("account:home"),
            danger=False,
        )
    try:
        codes = mfa_services.recovery_codes_regenerate(
            actor=request.actor, keep_session_key=request.session.session_key
        )
    except ValidationError as exc:
        messages.error(request, refusal_text(exc))
        return redirect("account:home")
    keep_codes(request, codes)
    return redirect("account:recovery_codes")


@signed_in
@reauth_required
@require_http_methods(["GET", "POST"])
def mfa_remove(request, factor_id):
    user = request.actor.person
    device = factor_device(user, factor_id)
    if device is None:
        messages.info(request, "That factor was already removed.")
        return redirect("account:home")
    if request.method == "GET":
        return _confirm_removal(request, user, device)
    try:
        mfa_services.mfa_device_remove(
            actor=request.actor,
            user=user,
            device_id=factor_id,
            keep_session_key=request.session.session_key,
        )
    except PolicyDenied as exc:
        messages.error(request, exc.message)
        return redirect("account:home")
    except NotFound as exc:
        messages.info(request, exc.message)
        return redirect("account:home")
    if has_mfa(user):
        messages.success(request, "The factor was removed.")
    else:
        messages.success(request, "Two-factor authentication is off.")
    return redirect("account:home")


def _confirm_removal(request, user, device):
    """What removing `device` does, asked before it is done: removing the
    last authenticator app or passkey turns two-factor off."""
    passkey = isinstance(device, WebAuthnCredential)
    others = [f for f in factors_for_user(user) if f.kind in ("totp", "passkey")]
    if len(others) > 1:
        return confirm_page(
            request,
            title=f"Remove the passkey “{device.name}”?" if passkey else "Remove this factor?",
            message="It will no longer work for signing in; your other factors stay.",
            button="Remove passkey" if passkey else "Remove authenticator app",
            cancel_url=reverse("account:home"),
        )
    warning = ""
    if mfa_required(user):
        warning = " Your role requires it, so you will be asked to set up a new one."
    return confirm_page(
        request,
        title="Turn off two-factor authentication?",
        message="Signing in will only need your password; your recovery codes are "
        "removed too." + warning,
        button="Remove passkey" if passkey else "Remove authenticator app",
        cancel_url=reverse("account:home"),
    )
