"""Email addresses as people read them: the domain as typed and, where
that differs, its encoded form (`accounts.models.email_for_people`), so a
look-alike domain shows what it is; wrapping where a reader expects: before
the "@" and before each dot, and mid-word only when one part alone is wider
than the line (the `address` class: overflow-wrap: anywhere)."""

from __future__ import annotations

import html

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from accounts.models import email_for_people

register = template.Library()


@register.filter
def address(value) -> str:
    text = "" if value is None else email_for_people(str(value))
    local, at, domain = text.rpartition("@")
    if not at:
        return escape(text)
    # html.escape: what `escape` does, without its lazy-string wrapper (the
    # users list calls this for every row).
    local_html = html.escape(local).replace(".", "<wbr>.")
    domain_html = html.escape(domain).replace(".", "<wbr>.")
    # Both parts are escaped above; only the <wbr> tags are markup.
    return mark_safe(f"{local_html}<wbr>@{domain_html}")  # noqa: S308
