"""`{% user_security subject %}`: the user page's security section fetches
its own data (the page view passes only `subject`)."""

from django import template

from accounts.views.user_security import security_context

register = template.Library()


@register.inclusion_tag("users/sections/security_body.html", takes_context=True)
def user_security(context, subject):

    return security_context(context["request"], subject)
