"""The email outbox.

`email_queue` writes the message in the caller's transaction and schedules
its sending after commit; a rolled-back change therefore sends nothing.
`email_deliver` (run by the Celery task) locks the row and checks its status
first, so a redelivered task never sends a message twice.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail


def site_link(path: str) -> str:
    """An absolute link from SITE_URL -- never from the request's Host."""
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def _message_id(email_id: uuid.UUID) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "handover.local"
    return f"<{email_id}@{domain}>"


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/emails/<template>_subject.txt,
    _message.txt and (optional) _message.html."""
    ctx = {"site_url": settings.SITE_URL, "site_name": "Handover", **context}
    subject = render_to_string(f"emails/{template}_subject.txt", ctx)
    subject = " ".join(subject.split())
    text = render_to_string(f"emails/{template}_message.txt", ctx)
    try:
        html = render_to_string(f"emails/{template}_message.html", ctx)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


def email_queue(*, to: str, template: str, context: dict, user=None) -> OutboundEmail:
    """Write an outbound email in the current transaction and send it after
    commit. The caller holds the transaction (a service)."""
    subject, text, html = render_email(template, context)
    email_id = uuid.uuid4()
    email = OutboundEmail.objects.create(
        id=email_id,
        to=to,
        user=user,
        template=template,
        subject=subject,
        body_text=text,
        body_html=html,
        message_id=_message_id(email_id),
    )
    transaction.on_commit(lambda: _enqueue(email.pk))
    return email


def _enqueue(email_id) -> None:
    from accounts.tasks import email_send

    try:
        email_send.delay(str(email_id))
    except Exception:  # broker down: the row stays pending for the sweep
        import logging

        logging.getLogger(__name__).warning("could not queue email %s; the sweep will", email_id)


def email_deliver(email_id) -> str:
    """Send one pending email exactly once. Returns the resulting status.
    Raises on an SMTP error after recording it (the task retries)."""
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != EmailStatus.PENDING:
            return email.status if email else "missing"
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[email.to],
            headers={"Message-ID": email.message_id},
        )
        if email.body_html:
            message.attach_alternative(email.body_html, "text/html")
        email.attempts += 1
        try:
            message.send()
        except Exception as exc:
            email.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            email.save(update_fields=["attempts", "last_error"])
            raise
        email.status = EmailStatus.SENT
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "attempts", "last_error"])
        return email.status
