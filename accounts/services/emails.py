"""The email outbox.

`email_queue` writes the message in the caller's transaction and schedules
its sending after commit; a rolled-back change therefore sends nothing.
`email_deliver` (run by the Celery task) locks the row and checks its status
first, so a redelivered task never sends a message twice. A failed attempt
is recorded (attempts, last error, next attempt time with exponential
backoff and jitter); after `EMAIL_MAX_ATTEMPTS` the row is `failed` and
waits for a person to retry it. `email_sweep` re-queues rows left pending
(broker down at commit time, worker killed mid-task).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from accounts.services.email_content import render_email
from accounts.services.sealing import seal, unseal
from audit import services as audit
from core import smtp
from core.services import service
from core.tasks import wake
from rbac import policies

logger = logging.getLogger(__name__)


def _message_id(email_id: uuid.UUID) -> str:
    """Fixed when the row is written, so every attempt (and a redelivery)
    carries the same Message-ID and receivers can spot a duplicate."""
    domain = urlsplit(settings.SITE_URL).hostname or "handover.local"
    return f"<{email_id}@{domain}>"


def email_queue(
    *, to: str, template: str, context: dict, user=None, secret: bool = False
) -> OutboundEmail:
    """Write an outbound email in the current transaction and send it after
    commit. The caller holds the transaction (a service). `secret=True`
    when the body carries a live token: it is stored sealed."""
    subject, text, html = render_email(template, context)
    if secret:
        text, html = seal(text), seal(html)
    email_id = uuid.uuid4()
    email = OutboundEmail.objects.create(
        id=email_id,
        to=to,
        user=user,
        template=template,
        subject=subject[:255],
        body_text=text,
        body_html=html,
        message_id=_message_id(email_id),
    )
    transaction.on_commit(lambda: email_enqueue(email.pk))
    return email


def email_enqueue(email_id) -> bool:
    """Hand one email to the broker. A broker outage is not an error here:
    the row stays pending and `email_sweep` queues it later."""
    try:
        wake("accounts.tasks.email_send", str(email_id))
        return True
    except Exception as exc:
        logger.warning("could not queue email %s (%s); the sweep will", email_id, exc)
        return False


# --- delivery ---------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did. `retry_in` (seconds) is set when the
    attempt failed and another one is due."""

    status: str
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: a random delay between half and
    all of base * 2**(attempts-1), capped. The jitter spreads a burst of
    failures so they do not all hit the SMTP server again at once."""
    base = settings.EMAIL_RETRY_BASE_SECONDS
    ceiling = min(settings.EMAIL_RETRY_MAX_SECONDS, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def _build_message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unseal(email.body_text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
    )
    if email.body_html:
        message.attach_alternative(unseal(email.body_html), "text/html")
    return message


def email_deliver(email_id) -> Delivery:
    """Send one pending email, at most once as far as the database can tell.

    1. Claim (short transaction, row locked): count the attempt and take a
       "sending" lease -- `next_attempt_at` moves EMAIL_SENDING_LEASE ahead,
       so a concurrent or redelivered task, and the sweep, leave the row
       alone while the message may be on its way.
    2. Talk to SMTP with no transaction open.
    3. Record the outcome, retrying the write with backoff for up to
       EMAIL_STATUS_RETRY_SECONDS (a PostgreSQL blip right after the send).

    If the database stays unreachable beyond that, the row keeps its lease
    and is sent again only after the lease (+ EMAIL_SWEEP_AFTER): the one
    case left that duplicates a message, bounded by one per worker slot
    whose send completed during that outage; the stable Message-ID lets
    receivers drop it."""
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None:
            return Delivery("missing")
        if email.status != EmailStatus.PENDING:
            return Delivery(email.status)
        now = timezone.now()
        if email.next_attempt_at > now + timedelta(seconds=1):
            return Delivery("not_due")
        email.attempts += 1
        email.next_attempt_at = now + settings.EMAIL_SENDING_LEASE
        email.save(update_fields=["attempts", "next_attempt_at"])
    try:
        _build_message(email).send()
    except Exception as exc:
        fields = _failure(email, exc)
        retry_in = fields.pop("_retry_in", None)
        _record_outcome(email.pk, fields)
        return Delivery(fields.get("status", EmailStatus.PENDING), retry_in)
    _record_outcome(email.pk, {"status": EmailStatus.SENT, "sent_at": timezone.now()})
    return Delivery(EmailStatus.SENT)


def _failure(email: OutboundEmail, exc: Exception) -> dict:
    """What a failed attempt changes on the row (issue 28, F7 and F8):
    - a permanent refusal (5xx) fails at once, with the server's words;
    - a timeout after the whole message went out ("possibly sent") is
      retried once at most: a second one fails the row, as it may have
      arrived twice already;
    - anything else (4xx, a connection refused, a timeout before the
      message went out) is retried with backoff up to EMAIL_MAX_ATTEMPTS.
    `_retry_in` (seconds) is set when another attempt is due."""
    now = timezone.now()
    permanent = smtp.permanent_error(exc)
    if permanent is not None:
        logger.error("email %s refused for good: %s", email.pk, permanent)
        return {"status": EmailStatus.FAILED, "last_error": f"Refused: {permanent}"[:2000]}
    error = f"{exc.__class__.__name__}: {exc}"[:2000]
    if isinstance(exc, smtp.PossiblySent):
        if email.possibly_sent_at is not None:
            logger.error("email %s possibly sent twice; not tried again", email.pk)
            return {
                "status": EmailStatus.FAILED,
                "possibly_sent_at": now,
                "last_error": "Possibly sent (twice; not tried again): " + error,
            }
        retry_in = retry_delay(email.attempts)
        return {
            "possibly_sent_at": now,
            "last_error": "Possibly sent (tried once more): " + error,
            "next_attempt_at": now + timedelta(seconds=retry_in),
            "_retry_in": retry_in,
        }
    if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
        logger.error("email %s failed for good: %s", email.pk, error)
        return {"status": EmailStatus.FAILED, "last_error": error}
    retry_in = retry_delay(email.attempts)
    return {
        "last_error": error,
        "next_attempt_at": now + timedelta(seconds=retry_in),
        "_retry_in": retry_in,
    }


def _record_outcome(email_id, fields: dict) -> None:
    """Write an attempt's outcome, retrying with backoff while the database
    is unreachable (for up to EMAIL_STATUS_RETRY_SECONDS); then give up by
    raising -- the sending lease keeps the row from being resent early."""
    deadline = time.monotonic() + settings.EMAIL_STATUS_RETRY_SECONDS
    pause = 0.2
    while True:
        try:
            OutboundEmail.objects.filter(pk=email_id).update(**fields)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() + pause > deadline:
                logger.error("could not record the outcome of email %s", email_id)
                raise
            # The connection is broken: drop it so the next try reconnects.
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def email_sweep(*, limit: int = 500) -> int:
    """Queue again the pending emails whose attempt is overdue by more than
    EMAIL_SWEEP_AFTER (their task was lost: broker down at commit, worker
    killed). Pushing `next_attempt_at` to now keeps the next sweep from
    queuing the same rows again before they had a chance. Returns how many
    were queued."""
    now = timezone.now()
    cutoff = now - settings.EMAIL_SWEEP_AFTER
    with transaction.atomic():
        ids = list(
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(status=EmailStatus.PENDING, next_attempt_at__lte=cutoff)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        OutboundEmail.objects.filter(pk__in=ids).update(next_attempt_at=now)
    queued = 0
    for pk in ids:
        if not email_enqueue(pk):
            break  # the broker is still down; the next sweep tries again
        queued += 1
    return queued


@service
def email_retry(*, actor, email: OutboundEmail) -> OutboundEmail:
    """A person sends a failed (or stuck pending) email again: the row goes
    back to pending with a fresh attempt budget and is queued after commit.
    A sent email is never sent twice."""
    action = "accounts.email.retried"
    policies.check_permission(actor, "emails:retry", action=action)
    email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
    if email.status == EmailStatus.SENT:
        raise ValidationError("This email was already sent; it is not sent twice.", code="sent")
    before = {"status": email.status, "attempts": email.attempts}
    email.status = EmailStatus.PENDING
    email.attempts = 0
    email.next_attempt_at = timezone.now()
    email.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit.record(
        action,
        actor=actor,
        target=audit.Target(
            type="email", id=str(email.pk), label=f"{email.template} to {email.to}"
        ),
        changes={"status": [before["status"], "pending"], "attempts": [before["attempts"], 0]},
    )
    transaction.on_commit(lambda: email_enqueue(email.pk))
    return email
