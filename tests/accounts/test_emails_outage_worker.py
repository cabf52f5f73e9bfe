# Fixtures imported from another module are "redefined" as test arguments.
# ruff: noqa: F811
"""Duplicate emails after a PostgreSQL outage, measured with real parts
(issue 17): a worker process whose database connection goes through a TCP
proxy the test kills while messages are being handed to aiosmtpd. The
"sent" write is retried through the outage (EMAIL_STATUS_RETRY_SECONDS), so
an outage shorter than that resends nothing."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction

from accounts.models import OutboundEmail
from accounts.services import emails
from tests.accounts.test_emails_reliability import (  # noqa: F401
    broker,
    counts,
    queue_notice,
    services_ready,
    smtp_server,
    worker,
)
from tests.accounts.test_jobs_faults import pg_proxy, record  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.adversarial]


def test_a_database_outage_while_sending_leaves_no_duplicates(
    worker, pg_proxy, smtp_server, settings
):
    total = 120
    settings.EMAIL_SWEEP_AFTER = timedelta(seconds=2)
    smtp_server.delay = 0.1  # each message spends a moment in DATA: sends are in flight
    with transaction.atomic():
        rows = [queue_notice(to=f"outage{i}@example.com") for i in range(total)]
    worker.start(concurrency=2, DATABASE_URL=pg_proxy.url, EMAIL_SENDING_LEASE_SECONDS=40)
    worker.wait_for(lambda: len(smtp_server.message_ids) >= 30, timeout=60, what="30 deliveries")
    smtp_server.receiving.clear()
    smtp_server.receiving.wait(timeout=5)
    pg_proxy.kill()  # while a message is being received
    sent_at_outage = len(smtp_server.message_ids)
    time.sleep(8)
    pg_proxy.revive()
    back = time.monotonic()

    def drained():
        if counts()["sent"] == total:
            return True
        emails.email_sweep()  # what beat does
        return False

    worker.wait_for(drained, timeout=120, interval=1.5, what="all sent")
    recovery = time.monotonic() - back
    time.sleep(1)
    received = Counter(smtp_server.message_ids)
    duplicates = sum(n - 1 for n in received.values())
    assert set(received) == {r.message_id for r in rows}
    assert OutboundEmail.objects.filter(status="sent").count() == total
    record(
        "8 s PostgreSQL outage while sending email",
        lost=0,
        duplicated=duplicates,
        stuck=0,
        sent_at_outage=f"{sent_at_outage}/{total}",
        recovery_seconds=round(recovery, 1),
    )
    assert duplicates == 0
