"""`{% url %}` as Django writes it, its argument-less uses read from
`core.links.page_url` (cached per process) instead of reversed on every
render. Loaded as a builtin after Django's own (settings: TEMPLATES'
`builtins`), so every template's `{% url %}` is this one; uses with
arguments are Django's node unchanged."""

from __future__ import annotations

from django import template
from django.template import defaulttags
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape

from core.links import page_url

register = template.Library()


class PageURLNode(defaulttags.URLNode):
    """A `{% url 'name' %}` or `{% url 'name' as var %}`: Django's
    `URLNode.render` with `page_url` for `reverse`."""

    def render(self, context):
        view_name = self.view_name.resolve(context)
        try:  # as `URLNode.render` finds it
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = page_url(view_name, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    if node.args or node.kwargs:
        return node
    return PageURLNode(node.view_name, node.args, node.kwargs, node.asvar)
