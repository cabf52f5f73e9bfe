"""A PostgreSQL outage right after an email was handed to SMTP must not
make the sweep send it again (issue 17): the attempt takes a short
"sending" lease first, and the "sent" write is retried with backoff.

The database fault is injected with Django's execute_wrapper on the real
connection: every UPDATE that would record the row as sent fails the way a
dropped connection does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from accounts.services import emails

pytestmark = pytest.mark.django_db(transaction=True)


class SentWriteFails:
    """Fail the 'sent' status write `times` times (None: always)."""

    def __init__(self, times=None):
        self.times = times
        self.failed = 0

    def __call__(self, execute, sql, params, many, context):
        writes_sent = sql.startswith('UPDATE "accounts_outboundemail"') and "sent" in (params or ())
        if writes_sent and (self.times is None or self.failed < self.times):
            self.failed += 1
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def _queued(member, monkeypatch, *, age=timedelta(minutes=10)):
    with monkeypatch.context() as lost:  # the task is lost: only the row remains
        lost.setattr(emails.OUTBOX, "enqueue", lambda pk: False)
        email = emails.email_queue(to=member.email, template="email_verify", context={"link": "x"})
    # Overdue by more than EMAIL_SWEEP_AFTER: the sweep would pick it up.
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() - age)
    mail.outbox.clear()
    return email


def test_a_short_outage_after_the_send_is_ridden_out_and_nothing_is_sent_twice(
    member, settings, monkeypatch
):
    settings.EMAIL_STATUS_RETRY_SECONDS = 5
    email = _queued(member, monkeypatch)
    with connection.execute_wrapper(SentWriteFails(times=2)):
        outcome = emails.email_deliver(email.pk)
    assert outcome.status == "sent"
    assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.SENT
    assert emails.email_sweep() == 0
    assert len(mail.outbox) == 1


def test_a_long_outage_leaves_the_row_under_its_sending_lease_so_the_sweep_waits(
    member, settings, monkeypatch
):
    settings.EMAIL_STATUS_RETRY_SECONDS = 0.3
    email = _queued(member, monkeypatch)
    with connection.execute_wrapper(SentWriteFails()), pytest.raises(OperationalError):
        emails.email_deliver(email.pk)
    row = OutboundEmail.objects.get(pk=email.pk)
    assert row.status == EmailStatus.PENDING and row.attempts == 1
    assert row.next_attempt_at > timezone.now() + settings.EMAIL_SENDING_LEASE - timedelta(
        seconds=5
    )
    assert emails.email_sweep() == 0  # under the lease: not resent
    assert emails.email_deliver(email.pk).status == "not_due"
    assert len(mail.outbox) == 1
