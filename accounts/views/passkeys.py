"""The doors for passkeys: adding one on your account page, and using one
at the code step of signing in or to re-authenticate.

The browser side is django-otp-webauthn's own scripts (they find their
URLs in the page's `otp_webauthn_config`, here ours) and `js/passkeys.js`.
Each ceremony is two JSON POSTs: `begin` hands out options and keeps the
challenge in this session, `complete` checks the browser's answer once
(the state is popped first, so it is never reused). The package's own
views are not routed: they would add a factor without a fresh proof and
sign people in past the audit, the session rows and the budgets.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from accounts.passkeys import PasskeyHelper
from accounts.security import has_passkey
from accounts.services import auth as auth_services
from accounts.services import passkeys as passkey_services
from accounts.services import throttling
from accounts.services.mfa import CodeRefused
from accounts.services.sessions import session_rotate
from accounts.views.account_mfa import keep_codes
from accounts.views.pending import GENERIC_LOGIN_ERROR, PENDING_KEY, pending_user
from core.services import refusal_text
from core.web import safe_back
from rbac.decorators import public, signed_in
from rbac.policies import PolicyDenied

REGISTER_STATE = "passkey_register_state"
VERIFY_STATE = "passkey_verify_state"
# A passkey used on the re-authentication page counts as its code for this
# long, once: the page then sends the password with it.
REAUTH_PROOF = "passkey_reauth_proof"
REAUTH_PROOF_SECONDS = 120


def _error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def _answer(request):
    """The browser's JSON answer, or None."""
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# --- adding a passkey to your account -------------------------------------------


@signed_in
@never_cache
@require_POST
def register_begin(request):
    """Options for the browser to create a passkey. The service's guard
    decides (a fresh proof; nothing while viewing as someone); a refusal is
    audited and answered 403 in the package's JSON shape."""
    try:
        options, state = passkey_services.passkey_register_begin(
            actor=request.actor, helper=PasskeyHelper(request)
        )
    except PolicyDenied as exc:
        return _error(refusal_text(exc), exc.code, 403)
    request.session[REGISTER_STATE] = state
    return JsonResponse(options)


@signed_in
@never_cache
@require_POST
def register_complete(request):
    state = request.session.pop(REGISTER_STATE, None)
    request.session.save()  # the challenge is used once, whatever follows
    data = _answer(request)
    if not state or data is None:
        return _error(passkey_services.PASSKEY_FAILED, "invalid_state", 400)
    try:
        device, codes = passkey_services.passkey_register_complete(
            actor=request.actor,
            helper=PasskeyHelper(request),
            state=state,
            data=data,
            keep_session_key=request.session.session_key,
        )
    except PolicyDenied as exc:
        return _error(refusal_text(exc), exc.code, 403)
    except ValidationError as exc:
        return _error(refusal_text(exc), "passkey_refused", 400)
    if not request.user.is_verified():
        # A first factor: this session is now two-factor, with a new key.
        otp_login(request, device)
        session_rotate(request)
    if codes:
        keep_codes(request, codes)
        messages.success(request, f"Your passkey “{device.name}” is added.")
        return JsonResponse({"id": device.pk, "redirect_url": reverse("account:recovery_codes")})
    messages.success(request, f"Your passkey “{device.name}” is added.")
    return JsonResponse({"id": device.pk, "redirect_url": reverse("account:home") + "#mfa"})


# --- using one: the code step ----------------------------------------------------


def _refused_for_the_address(request) -> JsonResponse | None:
    if throttling.signin_refused(request):
        response = _error(throttling.SIGNIN_REFUSED, "throttled", 429)
        response["Retry-After"] = str(settings.SIGNIN_FAILURE_WINDOW)
        return response
    return None


@public
@never_cache
@require_POST
def login_begin(request):
    user = pending_user(request)
    if user is None or not has_passkey(user):
        return _error("Please sign in again.", "no_pending_sign_in", 400)
    refused = _refused_for_the_address(request)
    if refused:
        return refused
    options, state = passkey_services.passkey_verify_begin(helper=PasskeyHelper(request), user=user)
    request.session[VERIFY_STATE] = state
    return JsonResponse(options)


@public
@never_cache
@require_POST
def login_complete(request):
    """Step two of signing in with a passkey: as a code at `login_mfa`,
    a refusal counts towards the lockout and the address's budget, and a
    success signs in through `login_succeeded` (new session key, session
    row, audit)."""
    state = request.session.pop(VERIFY_STATE, None)
    request.session.save()
    user = pending_user(request)
    if user is None:
        return _error("Please sign in again.", "no_pending_sign_in", 400)
    refused = _refused_for_the_address(request)
    if refused:
        return refused
    if auth_services.account_locked(request, user):
        auth_services.login_failed(email=user.email, locked_out=True)
        request.session.pop(PENDING_KEY, None)
        return _error(GENERIC_LOGIN_ERROR, "locked", 403)
    try:
        device = passkey_services.passkey_verify(
            helper=PasskeyHelper(request), user=user, state=state, data=_answer(request)
        )
    except CodeRefused as refused:
        auth_services.code_failed(request, user, reason="Passkey refused.")
        return _error(refused.message, "passkey_refused", 400)
    pending = request.session.pop(PENDING_KEY, None) or {}
    auth_services.login_succeeded(request, user, method="passkey", device=device)
    next_url = pending.get("next") or safe_back(request, reverse(settings.LOGIN_REDIRECT_URL))
    return JsonResponse({"id": device.pk, "redirect_url": next_url})


# --- using one: re-authentication ------------------------------------------------


@signed_in
@never_cache
@require_POST
def reauth_begin(request):
    user = request.user
    if not has_passkey(user):
        return _error("You have no passkey.", "no_passkey", 400)
    options, state = passkey_services.passkey_verify_begin(helper=PasskeyHelper(request), user=user)
    request.session[VERIFY_STATE] = state
    return JsonResponse(options)


@signed_in
@never_cache
@require_POST
def reauth_complete(request):
    """The passkey half of re-authenticating: kept for a moment, once, for
    the page's form, which brings the password (`account.reauth`)."""
    state = request.session.pop(VERIFY_STATE, None)
    request.session.save()
    user = request.user
    try:
        device = passkey_services.passkey_verify(
            helper=PasskeyHelper(request), user=user, state=state, data=_answer(request)
        )
    except CodeRefused as refused:
        auth_services.code_failed(request, user, reason="Passkey refused (re-authentication).")
        return _error(refused.message, "passkey_refused", 400)
    request.session[REAUTH_PROOF] = {"device": device.pk, "at": int(time.time())}
    return JsonResponse({"id": device.pk, "redirect_url": ""})


def take_reauth_proof(request) -> bool:
    """Whether this session used a passkey on the re-authentication page
    within the last moments; the proof is used up."""
    proof = request.session.pop(REAUTH_PROOF, None) or {}
    return bool(proof) and time.time() - proof.get("at", 0) <= REAUTH_PROOF_SECONDS
