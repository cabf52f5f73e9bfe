"""Email addresses that wrap where a reader expects: before the "@" and
before each dot, and mid-word only when one part alone is wider than the
line (the `address` class: overflow-wrap: anywhere)."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def address(value) -> str:
    text = "" if value is None else str(value)
    local, at, domain = text.rpartition("@")
    if not at:
        return escape(text)
    local_html = str(escape(local)).replace(".", "<wbr>.")
    domain_html = str(escape(domain)).replace(".", "<wbr>.")
    # Both parts are escaped above; only the <wbr> tags are markup.
    return mark_safe(f"{local_html}<wbr>@{domain_html}")  # noqa: S308
