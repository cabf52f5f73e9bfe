"""Email at the speed of SMTP (issue 29): a task sends a batch of due
outbox rows over one SMTP connection, each row still claimed under lock
with its lease, sent once with its stored Message-ID and recorded as soon
as the server accepted it. Against a real aiosmtpd server and PostgreSQL
(`core.smtp.EmailBackend`, as in production)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from accounts.services import emails
from tests.accounts.test_emails_reliability import free_port

pytestmark = pytest.mark.django_db(transaction=True)


class Server:
    """Records (connection, Message-ID) per accepted message; answers
    `answers[i]` to the i-th DATA when given; calls `on_data(i)` first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted: list[tuple] = []
        self.datas = 0
        self.answers: dict[int, str] = {}
        self.on_data = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.datas += 1
            n = self.datas
        if self.on_data:
            self.on_data(n)
        if n in self.answers:
            return self.answers[n]
        message_id = next(
            line.split(b":", 1)[1].strip().decode()
            for line in envelope.content.splitlines()
            if line.lower().startswith(b"message-id:")
        )
        with self.lock:
            self.accepted.append((session.peer, message_id))
        return "250 2.0.0 OK"

    @property
    def connections(self) -> int:
        return len({peer for peer, _ in self.accepted})

    @property
    def message_ids(self) -> list[str]:
        return [m for _, m in self.accepted]


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    server = Server()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "core.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    yield server
    controller.stop()


@pytest.fixture
def woken(monkeypatch):
    """The rows whose task was published (no broker: nothing runs)."""
    calls = []
    monkeypatch.setattr(emails.OUTBOX, "enqueue", lambda pk: calls.append(pk) or True)
    return calls


def queue(n, prefix="client"):
    return [
        emails.email_queue(
            to=f"{prefix}{i}@example.com",
            template="security_notice",
            context={"user": None, "kind": "password_changed", "headline": "Changed"},
        )
        for i in range(n)
    ]


def test_a_batch_goes_over_one_connection_each_row_once_with_its_message_id(smtp, woken):
    with transaction.atomic():
        rows = queue(30)
    assert woken == [rows[0].pk]  # one task for the 30 rows of the transaction

    batch = emails.email_deliver_batch(rows[0].pk)

    assert batch.first.status == EmailStatus.SENT
    assert smtp.connections == 1
    assert sorted(smtp.message_ids) == sorted(r.message_id for r in rows)
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {(EmailStatus.SENT, 1)}
    # The other rows' tasks (a redelivery, the sweep) find them sent.
    assert emails.email_deliver_batch(rows[5].pk).attempts == {}
    assert emails.email_sweep() == 0
    assert len(smtp.message_ids) == 30


def test_tasks_are_woken_one_per_batch_and_a_rolled_back_savepoint_takes_its_rows_along(
    smtp, woken, settings
):
    settings.EMAIL_BATCH_SIZE = 10
    with transaction.atomic():
        rows = queue(25)
        try:
            with transaction.atomic():
                gone = queue(3, prefix="gone")
                raise RuntimeError("this part fails")
        except RuntimeError:
            pass
    assert woken == [rows[0].pk, rows[10].pk, rows[20].pk]
    assert not OutboundEmail.objects.filter(pk__in=[g.pk for g in gone]).exists()
    for pk in woken:
        emails.email_deliver_batch(pk)
    assert sorted(smtp.message_ids) == sorted(r.message_id for r in rows)
    assert smtp.connections == 3


def test_a_refused_message_keeps_the_connection_and_the_rest_of_the_batch_goes_out(smtp, woken):
    smtp.answers = {2: "550 5.1.1 No such mailbox", 4: "451 4.3.0 Try again later"}
    with transaction.atomic():
        rows = queue(6)
    batch = emails.email_deliver_batch(rows[0].pk)
    by_status = dict(OutboundEmail.objects.values_list("to", "status"))
    assert by_status["client1@example.com"] == EmailStatus.FAILED  # 5xx: at once
    assert by_status["client3@example.com"] == EmailStatus.PENDING  # 4xx: retried
    assert list(batch.retries()) == [rows[3].pk]
    assert [by_status[f"client{i}@example.com"] for i in (0, 2, 4, 5)] == [EmailStatus.SENT] * 4
    assert smtp.connections == 1


def test_a_row_whose_lease_ran_out_and_was_claimed_again_is_not_sent_by_the_first_batch(
    smtp, woken, settings
):
    """Leases shorter than one attempt's bound are renewed before each row,
    only while the row is still this batch's: one taken over meanwhile (its
    lease ran out, another worker claimed it) is skipped."""
    settings.EMAIL_SENDING_LEASE = timedelta(seconds=30)
    settings.EMAIL_ATTEMPT_BOUND_SECONDS = 29.5  # renewed from 0.5 s after the claim
    with transaction.atomic():
        rows = queue(4)
    taken = rows[2]

    def another_worker_claims(n):
        if n == 1:  # while the first message is on the wire
            OutboundEmail.objects.filter(pk=taken.pk).update(
                next_attempt_at=timezone.now() + timedelta(minutes=5), attempts=2
            )
            connection.close()  # this thread's
            time.sleep(0.6)

    smtp.on_data = another_worker_claims
    batch = emails.email_deliver_batch(rows[0].pk)
    assert batch.attempts[taken.pk].status == "not_due"
    assert taken.message_id not in smtp.message_ids
    assert len(smtp.message_ids) == 3
    row = OutboundEmail.objects.get(pk=taken.pk)
    assert row.status == EmailStatus.PENDING and row.attempts == 2  # the other claim's
