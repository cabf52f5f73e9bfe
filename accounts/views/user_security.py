"""A user's sessions and MFA factors, for administrators: seen with
sessions:read / mfa:read, ended and removed with sessions:revoke /
mfa:reset. Mounted under users/ next to the user pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.models import UserSession
from accounts.security import (
    describe_user_agent,
    factor_device,
)
from accounts.services import mfa as mfa_services
from accounts.services import sessions as session_services
from accounts.templatetags.security_tags import security_context
from audit import events
from core.services import NotFound
from core.web import confirm_page, htmx_partial
from rbac import policies
from rbac.decorators import permission_required

app_name = "user_security"


def _back(subject) -> str:
    """The user's page when the users area is installed, this section's
    own page otherwise."""
    try:
        return reverse("users:detail", args=[subject.pk]) + "#security"
    except NoReverseMatch:
        return reverse("user_security:section", args=[subject.pk])


@permission_required("sessions:read", "mfa:read")
@require_http_methods(["GET"])
def section(request, user_id):
    """The security section on its own (HTMX refresh, or a plain page)."""

    subject = selectors.user_get(user_id, actor=request.actor)
    if htmx_partial(request):
        return render(
            request, "users/sections/security_body.html", security_context(request, subject)
        )
    # The section's template tag fetches what it shows.
    return render(request, "users/security_page.html", {"subject": subject})


@permission_required("sessions:revoke")
@require_http_methods(["GET", "POST"])
def session_end(request, user_id, pk):
    subject = selectors.user_get(user_id, actor=request.actor)
    if request.method == "POST":
        if session_services.session_revoke(actor=request.actor, user=subject, session_id=pk):
            messages.success(request, f"The session of {subject.display_name} was ended.")
        else:
            messages.info(request, "That session had already ended.")
        return redirect(_back(subject))
    # The confirmation names the device: only for someone the guard lets
    # end this user's sessions (asked before the session is looked up).
    if not policies.allows(
        policies.check_can_end_sessions, request.actor, subject, action=events.SESSION_REVOKED
    ):
        raise PermissionDenied
    session = get_object_or_404(UserSession, pk=pk, user=subject)
    if session.ended_at is not None:
        messages.info(request, "That session had already ended.")
        return redirect(_back(subject))
    return confirm_page(
        request,
        title=f"End a session of {subject.display_name}?",
        message=f"{describe_user_agent(session.user_agent)} will be signed out "
        "at its next request.",
        button="End session",
        cancel_url=_back(subject),
    )


@permission_required("sessions:revoke")
@require_http_methods(["GET", "POST"])
def sessions_end_all(request, user_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    if request.method == "GET":
        return confirm_page(
            request,
            title=f"Sign {subject.display_name} out everywhere?",
            message="Every session of this user ends at its next request.",
            button="End all sessions",
            cancel_url=_back(subject),
        )
    ended = session_services.sessions_revoke_all(actor=request.actor, user=subject)
    messages.success(
        request, f"{ended} session{'s' if ended != 1 else ''} of {subject.display_name} ended."
    )
    return redirect(_back(subject))


ALREADY_REMOVED = "That factor was already removed."


@permission_required("mfa:reset")
@require_http_methods(["GET", "POST"])
def mfa_remove(request, user_id, factor_id):
    subject = selectors.user_get(user_id, actor=request.actor)
    # Whether the factor exists is told only to someone the guard lets
    # remove it (the service asks the guard before looking it up too).
    may_remove = policies.allows(policies.check_can_remove_mfa, request.actor, subject)
    if request.method == "GET" and may_remove and factor_device(subject, factor_id) is None:
        messages.info(request, ALREADY_REMOVED)
        return redirect(_back(subject))
    if request.method == "GET":
        return confirm_page(
            request,
            title=f"Remove a factor of {subject.display_name}?",
            message="They will sign in with their password only, until they set up a new "
            "authenticator app. They are told by email and all their sessions end.",
            button="Remove factor",
            cancel_url=_back(subject),
        )
    try:
        mfa_services.mfa_device_remove(actor=request.actor, user=subject, device_id=factor_id)
    except NotFound:
        messages.info(request, ALREADY_REMOVED)
        return redirect(_back(subject))
    messages.success(
        request, f"The factor was removed; {subject.display_name} has been told by email."
    )
    return redirect(_back(subject))


urlpatterns = [
    path("<uuid:user_id>/security/", section, name="section"),
    path("<uuid:user_id>/sessions/<int:pk>/end/", session_end, name="session_end"),
    path("<uuid:user_id>/sessions/end-all/", sessions_end_all, name="sessions_end_all"),
    path("<uuid:user_id>/mfa/<str:factor_id>/remove/", mfa_remove, name="mfa_remove"),
]
