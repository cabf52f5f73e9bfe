"""Pages reached from an emailed link, without signing in: forgotten
password, reset, invitation, sign-in link, email verification.

A link's token is moved from the URL into the session and the browser is
redirected to the same route with the placeholder `continue`, so the token
never appears in a Referer header or the page's address afterwards (the
`django.contrib.auth` pattern).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from accounts.forms import AcceptForm, ForgotForm, JoinForm, MagicForm, NewPasswordForm
from accounts.models import TokenPurpose
from accounts.security import mfa_required, mfa_required_for_permissions
from accounts.services import auth as auth_services
from accounts.services import invitations as invitation_services
from accounts.services import passwords, verification
from accounts.services.invitation_join import invitation_join
from accounts.services.tokens import TokenInvalid, lookup_digest, token_peek
from audit import context as audit_context
from rbac.decorators import public
from rbac.policies import PolicyDenied

PLACEHOLDER = "continue"
RESET_KEY = "_password_reset_token"
INVITE_KEY = "_invitation_token"
MAGIC_KEY = "_magic_link_token"
VERIFY_KEY = "_email_verify_token"

FORGOT_ANSWER = (
    "If an account with that address can reset its password, we have sent it a link. "
    "Check your inbox (and spam folder); the link works once, for 24 hours."
)


def _page(request, body: str, *, title: str, status: int = 200, **ctx):
    return render(
        request,
        "public/page.html",
        {"public_body": body, "title": title, **ctx},
        status=status,
    )


def _invalid(request, message: str, *, title="This link cannot be used", status=400, action=None):
    return _page(
        request,
        "public/link_invalid.html",
        title=title,
        status=status,
        message=message,
        action=action,
    )


def _withdrawn(request, exc: PolicyDenied, *, action=None):
    """An administrator's link whose maker may no longer give it (the
    refusal is already on the audit record)."""
    return _invalid(
        request, exc.message, title="This link was withdrawn", status=403, action=action
    )


def _hop(request, token: str, key: str, route: str):
    """Keep the URL's token (as its hash: sessions live in the database too)
    in the session and redirect to the placeholder URL; returns (response,
    None) for the hop or (None, digest) after it."""
    if token != PLACEHOLDER:
        request.session[key] = lookup_digest(token) or ""
        return redirect(reverse(route, args=[PLACEHOLDER])), None
    return None, request.session.get(key) or None


def password_token_page(view):
    """The protections of every page a one-time link opens to choose a
    password (reset, invitation, sign-in link): public, the token and the
    passwords kept out of error reports, CSRF-checked, never cached."""
    view = require_http_methods(["GET", "POST"])(view)
    view = never_cache(view)
    view = csrf_protect(view)
    view = sensitive_variables("token")(view)
    view = sensitive_post_parameters("password", "password1", "password2")(view)
    return public(view)


def _password_errors(form, exc: ValidationError):
    form.add_error("password1", exc.messages)


# --- forgotten password ------------------------------------------------------


@public
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_forgot(request):
    form = ForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The service pads every outcome to PASSWORD_FORGOT_MIN_SECONDS.
        status = 200
        try:
            passwords.password_reset_request(
                email=form.cleaned_data["email"], ip=audit_context.current().ip
            )
            answer = FORGOT_ANSWER
        except passwords.TooManyRequests as exc:
            status, answer = 429, exc.message
        except Exception:  # SMTP, broker, anything: the same answer as success
            logging.getLogger(__name__).exception("password reset request failed")
            answer = FORGOT_ANSWER
        return _page(
            request,
            "public/password_forgot_done.html",
            title="Check your email",
            answer=answer,
            status=status,
        )
    return _page(request, "public/password_forgot.html", title="Forgot your password?", form=form)


@password_token_page
def password_reset(request, token):
    response, token = _hop(request, token, RESET_KEY, "password_reset")
    if response:
        return response
    action = {"url": reverse("password_forgot"), "label": "Ask for a new link"}
    if not token:
        return _invalid(request, TokenInvalid.MESSAGES["unknown"], action=action)
    try:
        row = token_peek(digest=token, purpose=TokenPurpose.PASSWORD_RESET)
    except TokenInvalid as exc:
        return _invalid(request, exc.message, action=action)
    except PolicyDenied as exc:
        return _withdrawn(request, exc, action=action)
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            passwords.password_reset_complete(digest=token, password=form.cleaned_data["password1"])
        except TokenInvalid as exc:
            return _invalid(request, exc.message, action=action)
        except PolicyDenied as exc:
            return _withdrawn(request, exc, action=action)
        except ValidationError as exc:
            _password_errors(form, exc)
        else:
            request.session.pop(RESET_KEY, None)
            if request.user.is_authenticated:
                auth_services.logout_user(request)
            messages.success(
                request,
                "Your password was changed and every session signed out. "
                "Sign in with your new password.",
            )
            return redirect(settings.LOGIN_URL)
    return _page(
        request,
        "public/password_reset.html",
        title="Choose a new password",
        form=form,
        subject=row.user,
    )


# --- invitations ---------------------------------------------------------------


@password_token_page
def invite_accept(request, token):
    response, token = _hop(request, token, INVITE_KEY, "invite_accept")
    if response:
        return response
    if not token:
        return _invalid(request, invitation_services.InvitationInvalid.MESSAGES["unknown"])
    try:
        invitation = invitation_services.invitation_peek(digest=token)
    except invitation_services.InvitationInvalid as exc:
        action = None
        if exc.reason == "accepted":
            action = {"url": reverse("login"), "label": "Sign in"}
        return _invalid(request, exc.message, title=_INVITE_TITLES[exc.reason], action=action)
    if invitation_services.joins_existing_account(invitation):
        return _invite_join(request, token, invitation)
    form = AcceptForm(request.POST or None, initial={"name": invitation.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_services.invitation_accept(
                digest=token,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
            )
        except invitation_services.InvitationInvalid as exc:
            return _invalid(request, exc.message, title=_INVITE_TITLES[exc.reason])
        except ValidationError as exc:
            _password_errors(form, exc)
        else:
            request.session.pop(INVITE_KEY, None)
            auth_services.login_succeeded(request, user, method="invitation")
            if mfa_required(user) or form.cleaned_data["setup_mfa"]:
                # Straight into enrolment, then on to the dashboard. (When
                # the invited roles require MFA, MFAPolicyMiddleware would
                # send them there anyway.)
                messages.success(
                    request, "Welcome to Handover! Your account is ready. One more step:"
                )
                query = urlencode({"next": reverse("overview")})
                return redirect(f"{reverse('account:mfa_setup')}?{query}")
            messages.success(
                request,
                "Welcome to Handover! Your account is ready. You can turn on two-factor "
                "authentication in My account.",
            )
            return redirect(settings.LOGIN_REDIRECT_URL)
    roles = list(invitation.roles.all())
    return _page(
        request,
        "public/invite_accept.html",
        title="Accept your invitation",
        form=form,
        invitation=invitation,
        roles=roles,
        mfa_will_be_required=_invited_mfa_required(invitation, roles),
    )


def _invite_join(request, token, invitation):
    """An invitation into an organization for an account that exists: no
    name or password to choose -- the invitee signs in as that account and
    confirms their password, and joins. Anyone else is told whose it is."""
    invitee = invitation.user
    signed_in = request.user if request.user.is_authenticated else None
    form = None
    if signed_in is not None and signed_in.pk == invitee.pk:
        form = JoinForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                invitation_join(
                    actor=request.actor, digest=token, password=form.cleaned_data["password"]
                )
            except invitation_services.InvitationInvalid as exc:
                return _invalid(request, exc.message, title=_INVITE_TITLES[exc.reason])
            except PolicyDenied as exc:
                form.add_error("password", exc.message)
            else:
                request.session.pop(INVITE_KEY, None)
                messages.success(request, f"You are now a member of {invitation.organization}.")
                return redirect(settings.LOGIN_REDIRECT_URL)
    query = urlencode({"next": reverse("invite_accept", args=[PLACEHOLDER])})
    return _page(
        request,
        "public/invite_join.html",
        title=f"Join {invitation.organization}",
        form=form,
        invitation=invitation,
        roles=list(invitation.roles.all()),
        signed_in=signed_in,
        sign_in_url=f"{reverse(settings.LOGIN_URL)}?{query}",
        status=400 if form is not None and form.errors else 200,
    )


def _invited_mfa_required(invitation, roles) -> bool:
    """Whether the MFA policy will oblige the invited user to use a second
    factor (then the page says so instead of offering a choice)."""
    held = set(invitation.permissions or [])
    for role in roles:
        held.update(role.permissions)
    return mfa_required_for_permissions(held)


_INVITE_TITLES = {
    "unknown": "This invitation link is not valid",
    "accepted": "This invitation was already accepted",
    "revoked": "This invitation was withdrawn",
    "expired": "This invitation has expired",
    "inactive": "This invitation cannot be used",
    "outdated": "This invitation needs to be sent again",
    "existing_account": "Sign in to accept this invitation",
}


# --- sign-in links -------------------------------------------------------------


@password_token_page
def magic_link(request, token):
    """A sign-in link. Using it takes a button press (a POST), so mail
    scanners that fetch links do not burn it."""
    response, token = _hop(request, token, MAGIC_KEY, "magic_link")
    if response:
        return response
    if not token:
        return _invalid(request, TokenInvalid.MESSAGES["unknown"])
    try:
        row = token_peek(digest=token, purpose=TokenPurpose.MAGIC_LINK)
    except TokenInvalid as exc:
        return _invalid(request, exc.message)
    except PolicyDenied as exc:
        return _withdrawn(request, exc)
    needs_password = not row.user.has_usable_password()
    data = request.POST if request.method == "POST" else None
    form = NewPasswordForm(data) if needs_password else MagicForm(data)
    if request.method == "POST" and form.is_valid():
        try:
            user = passwords.magic_link_use(
                digest=token, password=form.cleaned_data.get("password1")
            )
        except TokenInvalid as exc:
            return _invalid(request, exc.message)
        except PolicyDenied as exc:
            return _withdrawn(request, exc)
        except ValidationError as exc:
            if needs_password:
                _password_errors(form, exc)
            else:
                return _invalid(request, " ".join(exc.messages))
        else:
            request.session.pop(MAGIC_KEY, None)
            if passwords.user_has_second_factor(user):
                messages.info(
                    request,
                    "Your link was accepted. This account uses two-factor authentication: "
                    "sign in with your password and code.",
                )
                return redirect(settings.LOGIN_URL)
            auth_services.login_succeeded(request, user, method="magic_link")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return _page(
        request,
        "public/magic_link.html",
        title="Sign in to Handover",
        form=form,
        subject=row.user,
        needs_password=needs_password,
    )


@public
@sensitive_variables("token")
@never_cache
@require_http_methods(["GET"])
def email_verify(request, token):
    response, token = _hop(request, token, VERIFY_KEY, "email_verify")
    if response:
        return response
    try:
        user = verification.email_verify(digest=token or "")
    except TokenInvalid as exc:
        return _invalid(request, exc.message)
    request.session.pop(VERIFY_KEY, None)
    return _page(
        request, "public/email_verified.html", title="Email address confirmed", subject=user
    )


urlpatterns = [
    path("password/forgot/", password_forgot, name="password_forgot"),
    path("password/reset/<str:token>/", password_reset, name="password_reset"),
    path("invite/<str:token>/", invite_accept, name="invite_accept"),
    path("magic/<str:token>/", magic_link, name="magic_link"),
    path("verify/<str:token>/", email_verify, name="email_verify"),
]
