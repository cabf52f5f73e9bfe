"""`{% user_security subject %}`: the user page's security section fetches
its own data (the page view passes only `subject`). `security_context` is
also what the section's own view renders; it lives here, below the views,
because a template tag never imports a view."""

from django import template

from accounts.security import describe_user_agent, factors_for_user, open_sessions
from audit import events
from rbac import policies
from rbac.selectors import prime_permissions

register = template.Library()


def security_context(request, subject, viewer=None) -> dict:
    """What templates/users/sections/security.html shows, per the viewer's
    permissions (also rendered by the section's own view). `viewer`: the
    request's actor knowing the subject's permissions already (the user
    page's `detail_context`), or None."""

    # Two guards compare the viewer with the subject: its permissions once.
    viewer = viewer or request.actor
    if subject.pk not in viewer.known_permissions:
        viewer = viewer.knowing(prime_permissions([subject]))
    # This page acts on other users; your own sessions and factors are
    # ended and removed on the account page (which keeps this session).
    own = policies.is_self(viewer, subject)
    ctx = {"subject": subject, "request": request, "own": own}
    if policies.user_has(viewer, "sessions:read"):
        ctx["sessions"] = [
            {"obj": s, "device": describe_user_agent(s.user_agent), "current": False}
            for s in open_sessions(subject)
        ]
        ctx["can_end"] = not own and policies.allows(
            policies.check_can_end_sessions, viewer, subject, action=events.SESSION_REVOKED
        )
        ctx["show_sessions"] = True
    if policies.user_has(viewer, "mfa:read"):
        ctx["factors"] = factors_for_user(subject)
        ctx["has_mfa"] = any(f.kind in ("totp", "passkey") for f in ctx["factors"])
        ctx["can_reset"] = not own and policies.allows(
            policies.check_can_remove_mfa, viewer, subject
        )
        ctx["show_mfa"] = True
    return ctx


@register.inclusion_tag("users/sections/security_body.html", takes_context=True)
def user_security(context, subject):
    # On the user page, the actor that worked out the header's actions.
    return security_context(context["request"], subject, context.get("viewer"))
