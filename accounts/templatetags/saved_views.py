"""`{{ view.query|view_summary }}`: a saved view's filters in words."""

from django import template

from accounts.selectors.saved_views import view_summary as summary

register = template.Library()


@register.filter
def view_summary(query) -> str:
    return summary(str(query or ""))
