"""Rows sent by workers under a lease: the one claim/lease/send/record loop
the email outbox (`accounts.services.emails`) and webhook deliveries
(`webhooks.services.deliveries`) share.

A table of such rows has `status` ("pending" until sent or failed for
good), `attempts` and `next_attempt_at`. `LeasedSender.deliver` sends a
batch of them:

1. Claim, in one short transaction: the row the task was queued for is
   locked (waiting for a concurrent claim to commit), and up to
   `batch_size - 1` other pending rows that are due are locked with
   SELECT ... FOR UPDATE SKIP LOCKED -- a concurrent worker takes others,
   never the same. A task whose own row another batch took still takes
   due rows: tasks are woken one per batch (`enqueue_after_commit`), so
   each must take a batch's worth. Each claimed row counts an attempt and takes a sending
   lease: `next_attempt_at` moves `lease` ahead, so a redelivered task,
   another worker and the sweep leave it alone while it may be on its way.
2. Send them in order over one channel (one SMTP connection, say), with no
   transaction open. Before each row, a lease with less than one attempt's
   bound left is renewed, and only if it is still this claim's (the same
   `next_attempt_at`): a row whose lease ran out and was taken by another
   worker is skipped, so each row is sent by one claim at a time.
3. Record each row's outcome right after its send (a PostgreSQL blip is
   ridden out for `status_retry_seconds`), so a worker killed mid-batch
   resends at most the one row that was on the wire; the rows it had not
   reached keep their lease and the sweep queues them once it ran out.

`sweep` re-queues pending rows overdue by `sweep_after` (their task was
lost: broker down at commit, worker killed).

A subclass names the model, the settings and the task, and says how to
open the channel, send one row and word a failure.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.tasks import wake

logger = logging.getLogger(__name__)

PENDING = "pending"


@dataclass(frozen=True)
class Attempt:
    """What happened to one row: its status after the attempt, and
    `retry_in` (seconds) when it failed and another attempt is due."""

    status: str
    retry_in: float | None = None


@dataclass
class Outcome:
    """What one send changes on its row (`fields`, `status` included when
    it changes), and `then`: work to do once that is written (a webhook
    endpoint's failure count)."""

    fields: dict
    retry_in: float | None = None
    then: object = None

    @property
    def status(self) -> str:
        return self.fields.get("status", PENDING)


@dataclass
class Batch:
    """A `deliver` call's result: the queued row's attempt (`first`) and
    every row's (`attempts`, by primary key)."""

    first: Attempt
    attempts: dict = field(default_factory=dict)

    def retries(self) -> dict:
        """{pk: seconds} of the rows to try again."""
        return {pk: a.retry_in for pk, a in self.attempts.items() if a.retry_in is not None}


class LeasedSender:
    model = None  # the row's model
    task = ""  # the registered Celery task that sends one row (and its batch)
    noun = "row"  # for log lines

    # --- what a subclass provides --------------------------------------------

    @property
    def lease(self) -> timedelta:
        raise NotImplementedError

    @property
    def attempt_bound(self) -> float:
        """Seconds one send may take at most (its timeouts)."""
        raise NotImplementedError

    @property
    def sweep_after(self) -> timedelta:
        raise NotImplementedError

    @property
    def batch_size(self) -> int:
        return 1

    @property
    def status_retry_seconds(self) -> float:
        return 30.0

    def queryset(self):
        return self.model.objects.all()

    def refusal(self, row) -> dict | None:
        """Fields that settle a claimed row without sending it (or None)."""
        return None

    def channel(self):
        """A context manager giving `send(row)`: send one row over the
        channel (opened at the first send, reopened after a failure broke
        it) and return its Outcome, or raise."""
        raise NotImplementedError

    def failure(self, row, exc: Exception) -> Outcome:
        raise NotImplementedError

    # --- the loop --------------------------------------------------------------

    def deliver(self, pk, *, batch_size: int | None = None) -> Batch:
        """Claim the row `pk` (and up to `batch_size - 1` other due rows),
        send them over one channel and record each outcome."""
        limit = self.batch_size if batch_size is None else batch_size
        first, rows, lease_at = self._claim(pk, max(1, limit))
        batch = Batch(first)
        if not rows:
            return batch
        with self.channel() as send, _commits_not_waiting_for_disk():
            for row in rows:
                if not self._still_ours(row, lease_at):
                    batch.attempts[row.pk] = Attempt("not_due")
                    continue
                try:
                    outcome = send(row)
                except Exception as exc:
                    outcome = self.failure(row, exc)
                self.record(row.pk, outcome.fields)
                if outcome.then is not None:
                    outcome.then()
                batch.attempts[row.pk] = Attempt(outcome.status, outcome.retry_in)
        if batch.first.status == "claimed":
            batch.first = batch.attempts.get(pk, Attempt("not_due"))
        return batch

    def _claim(self, pk, limit: int):
        """(the queued row's Attempt -- "claimed" when it is in the batch --,
        the claimed rows in sending order, {pk: lease time}), in one
        transaction."""
        now = timezone.now()
        lease_at = now + self.lease
        with transaction.atomic():
            locked = self.queryset().select_for_update(of=("self",))
            row = locked.filter(pk=pk).first()
            rows = []
            if row is None:
                first = Attempt("missing")
            elif row.status != PENDING:
                first = Attempt(row.status)
            elif row.next_attempt_at > now + timedelta(seconds=1):
                first = Attempt("not_due")
            else:
                first, rows = Attempt("claimed"), [row]
            if limit > 1:
                rows += list(
                    locked.select_for_update(of=("self",), skip_locked=True)
                    .filter(status=PENDING, next_attempt_at__lte=now)
                    .exclude(pk=pk)
                    .order_by("next_attempt_at")[: limit - 1]
                )
            claimed = []
            for candidate in rows:
                settled = self.refusal(candidate)
                if settled is None:
                    claimed.append(candidate)
                    continue
                self.model.objects.filter(pk=candidate.pk).update(**settled)
                if candidate.pk == pk:
                    first = Attempt(settled.get("status", PENDING))
            if claimed:
                self.model.objects.filter(pk__in=[r.pk for r in claimed]).update(
                    attempts=F("attempts") + 1, next_attempt_at=lease_at
                )
        for r in claimed:
            r.attempts += 1
            r.next_attempt_at = lease_at
        return first, claimed, {r.pk: lease_at for r in claimed}

    def _still_ours(self, row, lease_at: dict) -> bool:
        """Renew the row's lease when less than one attempt's bound is left,
        only if no one else has claimed it since. A database error here
        propagates: the row keeps the lease it has and nothing is sent."""
        held = lease_at[row.pk]
        bound = self.attempt_bound
        lease_seconds = self.lease.total_seconds()
        if bound >= lease_seconds:
            bound = lease_seconds / 2
        now = timezone.now()
        if (held - now).total_seconds() >= bound:
            return True
        renewed = now + self.lease
        if not self.model.objects.filter(pk=row.pk, status=PENDING, next_attempt_at=held).update(
            next_attempt_at=renewed
        ):
            logger.warning("%s %s was claimed again meanwhile; skipped", self.noun, row.pk)
            return False
        lease_at[row.pk] = renewed
        row.next_attempt_at = renewed
        return True

    def record(self, pk, fields: dict) -> None:
        """Write an attempt's outcome, retrying with backoff while the
        database is unreachable (for up to `status_retry_seconds`); then give
        up by raising -- the sending lease keeps the row from being resent
        early.

        Within `deliver` the write's commit does not wait for the disk
        (`_commits_not_waiting_for_disk`)."""
        deadline = time.monotonic() + self.status_retry_seconds
        pause = 0.2
        while True:
            try:
                self.model.objects.filter(pk=pk).update(**fields)
                return
            except (OperationalError, InterfaceError):
                if time.monotonic() + pause > deadline:
                    logger.error("could not record the outcome of %s %s", self.noun, pk)
                    raise
                # The connection is broken: drop it so the next try reconnects.
                connection.close()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    # --- queuing ---------------------------------------------------------------

    def enqueue_after_commit(self, pk) -> None:
        """Queue the row's task once the current transaction commits: one
        task for each `batch_size` rows queued in a row in the transaction
        (a task takes a batch), instead of one task a row."""
        conn = transaction.get_connection()
        if conn.in_atomic_block and conn.run_on_commit:
            # Django keeps the transaction's callbacks in `run_on_commit`, each
            # with the savepoints it was registered in (so a rolled-back
            # savepoint drops its own). Join the last one only when it is this
            # sender's group from the same savepoints, so a group never spans
            # a savepoint that may be rolled back on its own.
            savepoints, last, _robust = conn.run_on_commit[-1]
            if (
                isinstance(last, _Wakes)
                and last.sender is self
                and savepoints == set(conn.savepoint_ids)
                and len(last.pks) < max(1, self.batch_size)
            ):
                last.pks.append(pk)
                return
        transaction.on_commit(_Wakes(self, pk))

    def enqueue(self, pk) -> bool:
        """Hand one row to the broker. A broker outage is not an error here:
        the row stays pending and the sweep queues it later."""
        try:
            wake(self.task, str(pk) if isinstance(pk, uuid.UUID) else pk)
            return True
        except Exception as exc:
            logger.warning("could not queue %s %s (%s); the sweep will", self.noun, pk, exc)
            return False

    def sweep(self, *, limit: int = 500) -> int:
        """Queue again the pending rows whose attempt is overdue by more than
        `sweep_after`. Pushing `next_attempt_at` to now keeps the next sweep
        from queuing the same rows before they had a chance. Returns how
        many were queued."""
        now = timezone.now()
        cutoff = now - self.sweep_after
        with transaction.atomic():
            ids = list(
                self.model.objects.select_for_update(skip_locked=True)
                .filter(status=PENDING, next_attempt_at__lte=cutoff)
                .order_by("next_attempt_at")
                .values_list("pk", flat=True)[:limit]
            )
            if not ids:
                return 0
            self.model.objects.filter(pk__in=ids).update(next_attempt_at=now)
        queued = 0
        step = max(1, self.batch_size)  # a task takes a batch
        for start in range(0, len(ids), step):
            if not self.enqueue(ids[start]):
                break  # the broker is still down; the next sweep tries again
            queued += len(ids[start : start + step])
        return queued


class _Wakes:
    """The rows queued together in one transaction: after commit, one task
    for the first (its batch takes the others)."""

    def __init__(self, sender: LeasedSender, pk):
        self.sender = sender
        self.pks = [pk]

    def __call__(self):
        self.sender.enqueue(self.pks[0])


@contextmanager
def _commits_not_waiting_for_disk():
    """While a batch is sent, its outcome writes (one autocommit UPDATE a
    row, written right after the row's send) commit without waiting for the
    WAL flush (PostgreSQL's `synchronous_commit = off`, for this session
    until the batch ends): that wait cost more than the SMTP exchange
    itself (5 ms against 0.6 ms a write, measured under load). A worker
    killed after a write loses nothing -- the server has it. Only a crash of
    PostgreSQL itself within its WAL writer's delay (about 0.6 s) can forget
    an outcome; the row is then sent again after its lease, with the same
    Message-ID or webhook-id: the duplicate case a database outage longer
    than the status retry already documents (a lease renewal forgotten that
    way lets another worker send the row once more, the same case). The
    claim before the batch commits as usual."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except (OperationalError, InterfaceError):
            connection.close()  # a new connection starts with the default


@contextmanager
def no_channel(send):
    """A channel with nothing to open or close: `send(row)` per row."""
    yield send
