"""The email outbox.

`email_queue` writes the message in the caller's transaction and schedules
its sending after commit; a rolled-back change therefore sends nothing.
The Celery task sends it with `email_deliver_batch`: the row and other due
ones, claimed under lock and leased (`core.leased`, the loop webhook
deliveries share), over one SMTP connection; a redelivered task finds the
row sent or leased and never sends a message twice. A failed attempt
is recorded (attempts, last error, next attempt time with exponential
backoff and jitter); after `EMAIL_MAX_ATTEMPTS` the row is `failed` and
waits for a person to retry it. `email_sweep` re-queues rows left pending
(broker down at commit time, worker killed mid-task).
"""

from __future__ import annotations

import logging
import random
import smtplib
import uuid
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from accounts.services.email_content import render_email
from accounts.services.sealing import seal, unseal
from audit import events
from audit import services as audit
from core import smtp
from core.compiled import Inserted
from core.leased import Attempt, Batch, LeasedSender, Outcome
from core.services import service
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
    email = _outbound(to=to, template=template, context=context, user=user, secret=secret)
    _insert_one(email)
    OUTBOX.enqueue_after_commit(email.pk)
    return email


# One email's INSERT, its text written by the ORM once (`core.compiled`).
_insert_one = Inserted(OutboundEmail)


def email_queue_many(messages: list[dict]) -> list[OutboundEmail]:
    """`email_queue` for many messages (each a dict of its arguments) with
    one INSERT: a batch action's notices."""
    emails = [_outbound(**message) for message in messages]
    OutboundEmail.objects.bulk_create(emails)
    for email in emails:
        OUTBOX.enqueue_after_commit(email.pk)  # one task a batch of them
    return emails


def _outbound(*, to, template, context, user=None, secret=False) -> OutboundEmail:
    subject, text, html = render_email(template, context)
    if secret:
        text, html = seal(text), seal(html)
    email_id = uuid.uuid4()
    return OutboundEmail(
        id=email_id,
        to=to,
        user=user,
        template=template,
        subject=subject[:255],
        body_text=text,
        body_html=html,
        message_id=_message_id(email_id),
    )


def email_enqueue(email_id) -> bool:
    """Hand one email to the broker. A broker outage is not an error here:
    the row stays pending and `email_sweep` queues it later."""
    return OUTBOX.enqueue(email_id)


# --- delivery ---------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: a random delay between half and
    all of base * 2**(attempts-1), capped. The jitter spreads a burst of
    failures so they do not all hit the SMTP server again at once."""
    base = settings.EMAIL_RETRY_BASE_SECONDS
    ceiling = min(settings.EMAIL_RETRY_MAX_SECONDS, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def _build_message(email: OutboundEmail, backend) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unseal(email.body_text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
        connection=backend,
    )
    if email.body_html:
        message.attach_alternative(unseal(email.body_html), "text/html")
    return message


def _connection_survives(exc: Exception) -> bool:
    """A reply refusing one message (4xx, 5xx, not 421) leaves the SMTP
    session usable (smtplib sends RSET); anything else -- a dropped or timed
    out connection, "possibly sent", 421 -- means a new connection."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code != 421


class _Outbox(LeasedSender):
    """The outbox's rows under `core.leased`: a batch goes over one SMTP
    connection (EMAIL_BATCH_SIZE messages at most)."""

    model = OutboundEmail
    task = "accounts.tasks.email_send"
    noun = "email"

    @property
    def lease(self):
        return settings.EMAIL_SENDING_LEASE

    @property
    def attempt_bound(self):
        return settings.EMAIL_ATTEMPT_BOUND_SECONDS

    @property
    def sweep_after(self):
        return settings.EMAIL_SWEEP_AFTER

    @property
    def batch_size(self):
        return settings.EMAIL_BATCH_SIZE

    @property
    def status_retry_seconds(self):
        return settings.EMAIL_STATUS_RETRY_SECONDS

    @contextmanager
    def channel(self):
        backend = get_connection()

        def send(email: OutboundEmail) -> Outcome:
            try:
                backend.open()  # no-op while the connection is up
                backend.send_messages([_build_message(email, backend)])
            except Exception as exc:
                if not _connection_survives(exc):
                    _close_quietly(backend)
                raise
            return Outcome({"status": EmailStatus.SENT, "sent_at": timezone.now()})

        try:
            yield send
        finally:
            _close_quietly(backend)

    def failure(self, email: OutboundEmail, exc: Exception) -> Outcome:
        fields = _failure(email, exc)
        retry_in = fields.pop("_retry_in", None)
        return Outcome(fields, retry_in)


def _close_quietly(backend) -> None:
    try:
        backend.close()
    except Exception as exc:  # the connection is gone either way
        logger.info("closing the SMTP connection failed: %s", exc)


OUTBOX = _Outbox()


def email_deliver(email_id) -> Attempt:
    """Send one pending email, at most once as far as the database can tell
    (`core.leased`: claim under lock with a sending lease, send with no
    transaction open, record the outcome, riding out a database blip for
    EMAIL_STATUS_RETRY_SECONDS).

    If the database stays unreachable beyond that, the row keeps its lease
    and is sent again only after the lease (+ EMAIL_SWEEP_AFTER): the one
    case left that duplicates a message, bounded by one per worker slot
    whose send completed during that outage; the stable Message-ID lets
    receivers drop it."""
    return OUTBOX.deliver(email_id, batch_size=1).first


def email_deliver_batch(email_id) -> Batch:
    """Send `email_id` and up to EMAIL_BATCH_SIZE - 1 other due emails over
    one SMTP connection (the Celery task's body): at the speed of SMTP, with
    each row still claimed under lock, sent by one worker and recorded as
    soon as the server accepted it."""
    return OUTBOX.deliver(email_id)


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


def email_sweep(*, limit: int = 500) -> int:
    """Queue again the pending emails whose attempt is overdue by more than
    EMAIL_SWEEP_AFTER (their task was lost: broker down at commit, worker
    killed). Returns how many were queued."""
    return OUTBOX.sweep(limit=limit)


@service
def email_retry(*, actor, email: OutboundEmail) -> OutboundEmail:
    """A person sends a failed (or stuck pending) email again: the row goes
    back to pending with a fresh attempt budget and is queued after commit.
    A sent email is never sent twice."""
    action = events.EMAIL_RETRIED
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
