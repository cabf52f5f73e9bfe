"""Template tags the user detail sections use to fetch their own data: the
page view passes only `subject`, so any area can replace a section."""

from __future__ import annotations

from django import template

from accounts import selectors
from audit.sentences import with_names
from rbac.policies import user_can_act_on, user_has
from rbac.selectors import permission_sources

register = template.Library()


@register.simple_tag
def user_open_sessions(subject):
    return list(selectors.user_sessions(subject)[:20])


@register.simple_tag
def user_mfa(subject):
    return selectors.user_mfa_devices(subject)


@register.simple_tag
def user_invitation_list(subject):
    return list(selectors.user_invitations(subject)[:10])


@register.simple_tag
def user_recent_audit(subject, limit=10):
    return list(selectors.user_audit_events(subject, limit=limit))


@register.simple_tag
def user_status_history(subject):
    return with_names(selectors.user_status_history(subject))


@register.simple_tag
def user_role_list(subject):
    return list(subject.roles.order_by("name"))


@register.simple_tag
def user_permission_sources(subject):

    return permission_sources(subject)


@register.simple_tag
def can(actor, permission, subject=None):
    """Whether `actor` holds `permission` (on `subject`, when given)."""
    if subject is None:
        return user_has(actor, permission)
    return user_can_act_on(actor, subject, permission)
