"""Template tags the user detail sections use to fetch their own data: the
page view passes only `subject`, so any area can replace a section."""

from __future__ import annotations

from django import template

from accounts import selectors
from audit.sentences import with_names

register = template.Library()


@register.simple_tag
def user_status_history(subject):
    return with_names(selectors.user_status_history(subject))


@register.simple_tag
def user_failed_signins(subject):
    return selectors.user_failed_signins(subject, limit=5)
