"""Template tags the user detail sections use to fetch their own data: the
page view passes only `subject`, so any area can replace a section."""

from __future__ import annotations

from django import template

from accounts import selectors
from audit.sentences import with_names

register = template.Library()


@register.simple_tag
def user_status_events(subject):
    """{"history": status changes (with names), "failures": failed
    sign-ins}, read together."""
    history, failures = selectors.user_status_events(subject)
    return {"history": with_names(history), "failures": failures}
