"""What an email says: links into the site and the rendered message.

`site_link` builds absolute links from SITE_URL (never from a request's
Host); `render_email` renders (subject, text, html) from the templates in
`templates/emails/`. Queueing and delivery are the outbox's
(`accounts/services/emails.py`)."""

from __future__ import annotations

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


def site_link(path: str) -> str:
    """An absolute link from SITE_URL -- never from the request's Host."""
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/emails/<template>_subject.txt,
    _message.txt and (optional) _message.html."""
    ctx = {"site_url": settings.SITE_URL, "site_name": "Handover", **context}
    subject = render_to_string(f"emails/{template}_subject.txt", ctx)
    subject = " ".join(subject.split())
    ctx["subject"] = subject
    text = render_to_string(f"emails/{template}_message.txt", ctx)
    try:
        html = render_to_string(f"emails/{template}_message.html", ctx)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html
