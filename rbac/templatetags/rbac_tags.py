"""Template helpers for RBAC pages."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def user_url(user) -> str:
    """The user's detail page when the users area is installed, else their
    access page here."""
    try:
        return reverse("users:detail", args=[user.pk])
    except NoReverseMatch:
        return reverse("roles:user_access", args=[user.pk])
