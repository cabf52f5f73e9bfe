# Fixtures imported from another module are "redefined" as test arguments.
# ruff: noqa: F811
"""SMTP faults through a real Celery worker and aiosmtpd (issue 28):

- F7, a permanent refusal (550): the row fails at once, with the server's
  words, after one attempt (it used to be retried like a 4xx for ~30 min);
- F8, a server that takes the message and then stalls before its final
  reply: the attempt is "possibly sent" and tried once more at most -- at
  most 2 copies of a message, never 5 -- with the final-reply timeout
  (RFC 5321: 10 minutes; 1 s here) and no second attempt while the first
  may still be talking to the server.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import transaction

from accounts.models import OutboundEmail
from tests.accounts.test_emails_reliability import (  # noqa: F401
    broker,
    queue_notice,
    services_ready,
    smtp_server,
    status_is,
    wait_for,
    worker,
)
from tests.accounts.test_jobs_faults import record

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.adversarial]


def test_a_permanent_refusal_fails_at_once_with_the_servers_words(worker, smtp_server):
    smtp_server.answer = "550 5.1.1 <client@example.com>: Recipient address rejected"
    worker.start(EMAIL_MAX_ATTEMPTS=6)
    started = time.monotonic()
    with transaction.atomic():
        email = queue_notice()
    worker.wait_for(status_is(email, "failed"), timeout=60, what="the email to fail")
    seconds = time.monotonic() - started
    email.refresh_from_db()
    time.sleep(1.5)  # no retry comes after
    assert smtp_server.attempts == 1
    assert email.attempts == 1
    assert email.last_error.startswith("Refused: 550 5.1.1")
    assert "Recipient address rejected" in email.last_error
    record(
        "SMTP answers 550", lost=0, duplicated=0, stuck=0, failed_after_seconds=round(seconds, 1)
    )


def test_a_stall_after_data_is_possibly_sent_and_tried_once_more_at_most(worker, smtp_server):
    total = 3
    smtp_server.stall = 3.0  # takes each message, answers after 3 s
    worker.start(
        EMAIL_DATA_END_TIMEOUT=1,
        EMAIL_TIMEOUT=5,
        EMAIL_SENDING_LEASE_SECONDS=12,  # more than one attempt's bound here
        EMAIL_MAX_ATTEMPTS=6,
    )
    started = time.monotonic()
    with transaction.atomic():
        rows = [queue_notice(to=f"stall{i}@example.com") for i in range(total)]
    for row in rows:
        worker.wait_for(status_is(row, "failed"), timeout=90, what="possibly sent twice")
    seconds = time.monotonic() - started
    time.sleep(2)
    copies = Counter(smtp_server.message_ids)
    print(f"FIGURE SMTP stall: copies {dict(copies)} in {seconds:.1f}s")
    assert set(copies) == {row.message_id for row in rows}
    assert max(copies.values()) == 2  # the one retry; never 5
    for row in OutboundEmail.objects.filter(pk__in=[r.pk for r in rows]):
        assert row.attempts == 2
        assert row.possibly_sent_at is not None
        assert row.last_error.startswith("Possibly sent (twice; not tried again)")
    record(
        "SMTP takes the message, then stalls",
        lost=0,
        duplicated=sum(n - 1 for n in copies.values()),
        stuck=0,
        copies_per_message=max(copies.values()),
        settled_after_seconds=round(seconds, 1),
    )


def test_a_stall_once_then_a_quick_answer_sends_the_message(worker, smtp_server):
    """The one retry after a possibly-sent attempt delivers (the receiver
    sees the same Message-ID twice and may drop one)."""
    smtp_server.stall = 3.0
    worker.start(EMAIL_DATA_END_TIMEOUT=1, EMAIL_TIMEOUT=5, EMAIL_SENDING_LEASE_SECONDS=12)
    with transaction.atomic():
        email = queue_notice()
    worker.wait_for(lambda: smtp_server.attempts >= 1, timeout=60, what="a first attempt")
    smtp_server.stall = 0.0
    worker.wait_for(status_is(email, "sent"), timeout=60, what="delivery on the retry")
    email.refresh_from_db()
    assert email.attempts == 2 and email.possibly_sent_at is not None
    assert smtp_server.message_ids == [email.message_id] * 2
