# Fixtures imported from another module are "redefined" as test arguments.
# ruff: noqa: F811
"""Durable jobs under real faults (issue 17): a Celery worker and beat as
separate processes, Redis as the broker, PostgreSQL behind a TCP proxy the
test kills, aiosmtpd for the invitation emails.

Each scenario asserts that every job finishes within a bounded time after
recovery, with exact counts, nobody processed twice and no email lost or
sent twice; the figures go to var/reliability/job_faults.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from accounts.models import BatchJob, Invitation, OutboundEmail
from accounts.services import batch, invitation_import, jobs
from audit.models import AuditEvent

# The real-process fixtures of the outbox reliability suite: Redis broker,
# aiosmtpd, a worker process (imported so pytest registers them here).
from tests.accounts.test_emails_reliability import (  # noqa: F401
    _database_url,
    broker,
    celery_kill,
    celery_start,
    services_ready,
    smtp_server,
    worker,
)
from tests.conftest import ROOT, make_users
from tests.faults import TcpProxy

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.adversarial]

FAST_RECOVERY = {
    "JOB_LEASE_SECONDS": 3,
    "JOB_RETRY_BASE_SECONDS": 0.5,
    "JOB_RETRY_MAX_SECONDS": 2,
    "EMAIL_SENDING_LEASE_SECONDS": 3,
}
FIGURES = Path(ROOT, "var", "reliability", "job_faults.json")


def record(scenario: str, **figures) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    data[scenario] = figures
    FIGURES.write_text(json.dumps(data, indent=2))
    print(scenario, figures)


@pytest.fixture
def beat(broker, tmp_path):
    """`beat.start()` runs `celery beat` (job sweep and email sweep every
    second) as a separate process."""

    class Beat:
        proc = None

        def start(self):
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "handover.settings",
                "DATABASE_URL": _database_url(),
                "REDIS_URL": broker.url,
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "JOB_SWEEP_INTERVAL_SECONDS": "1",
                "EMAIL_SWEEP_INTERVAL_SECONDS": "1",
                "LOG_LEVEL": "WARNING",
            }
            self.proc = celery_start(
                "beat",
                "--schedule",
                str(tmp_path / "beat-schedule"),
                env=env,
                log=tmp_path / "beat.log",
            )
            return self

    b = Beat()
    yield b
    celery_kill(b.proc)


@pytest.fixture
def pg_proxy(services_ready):
    from django.db import connection

    s = connection.settings_dict
    proxy = TcpProxy(s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)).start()
    proxy.url = _database_url().replace(f":{s['PORT'] or 5432}/", f":{proxy.port}/")
    yield proxy
    proxy.stop()


def _job(pk) -> BatchJob:
    return BatchJob.objects.get(pk=pk)


def _assert_batch_exact(job_id, total):
    job = _job(job_id)
    assert job.status == "done" and job.done == total
    assert job.result["processed"] == total and job.result["skipped"] == 0
    assert not job.result["errors"]
    disabled = AuditEvent.objects.filter(batch_id=job_id, action="accounts.user.disabled")
    assert disabled.count() == total  # nobody processed twice
    assert len(set(disabled.values_list("target_id", flat=True))) == total


def test_a_job_created_while_the_broker_is_down_finishes_once_it_is_back(
    worker,
    beat,
    broker,
    admin_user,
    owner,
):
    ids = [u.pk for u in make_users(600, prefix="brokerdown")]
    broker.point_at("redis://127.0.0.1:1/0")  # nothing listens there
    started = time.monotonic()
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    request_seconds = time.monotonic() - started
    job.refresh_from_db()
    assert job.status == "pending" and job.last_error == jobs.QUEUE_DOWN
    broker.point_at(broker.url)
    back = time.monotonic()
    worker.start(**FAST_RECOVERY)
    beat.start()
    worker.wait_for(lambda: _job(job.pk).status == "done", timeout=60, what="the job")
    _assert_batch_exact(job.pk, 600)
    record(
        "job created while the broker is down",
        lost=0,
        duplicated=0,
        stuck=0,
        create_seconds=round(request_seconds, 2),
        recovery_seconds=round(time.monotonic() - back, 1),
    )


def test_a_database_outage_mid_job_is_retried_and_the_job_finishes_exactly(
    worker,
    beat,
    pg_proxy,
    admin_user,
    owner,
):
    total = 2000
    ids = [u.pk for u in make_users(total, prefix="dbblip")]
    worker.start(DATABASE_URL=pg_proxy.url, **FAST_RECOVERY)
    beat.start()
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    worker.wait_for(
        lambda: _job(job.pk).done >= batch.CHUNK_SIZE,
        timeout=60,
        interval=0.05,
        what="the first chunk",
    )
    pg_proxy.kill()
    done_at_outage = _job(job.pk).done
    time.sleep(10)
    assert _job(job.pk).status == "running"
    pg_proxy.revive()
    back = time.monotonic()
    worker.wait_for(lambda: _job(job.pk).status == "done", timeout=90, what="the job")
    _assert_batch_exact(job.pk, total)
    record(
        "10 s PostgreSQL outage mid-job",
        lost=0,
        duplicated=0,
        stuck=0,
        done_at_outage=f"{done_at_outage}/{total}",
        recovery_seconds=round(time.monotonic() - back, 1),
    )


def test_a_worker_killed_mid_job_and_mid_import_is_resumed_by_the_sweep(
    worker,
    beat,
    smtp_server,
    admin_user,
    owner,
):
    total, rows_total = 2000, 100
    ids = [u.pk for u in make_users(total, prefix="killed")]
    rows = [
        {"email": f"invitee{i}@example.com", "name": "", "roles": []} for i in range(rows_total)
    ]
    worker.start(concurrency=2, **FAST_RECOVERY)
    beat.start()
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    imp = invitation_import.invitation_import_start(actor=admin_user, rows=rows)
    worker.wait_for(
        lambda: _job(job.pk).done >= batch.CHUNK_SIZE and _job(imp.pk).done >= 1,
        timeout=60,
        interval=0.05,
        what="both jobs under way",
    )
    worker.kill()
    at_kill = (_job(job.pk).done, _job(imp.pk).done)
    restarted = time.monotonic()
    worker.start(concurrency=2, **FAST_RECOVERY)
    worker.wait_for(
        lambda: _job(job.pk).status == "done" and _job(imp.pk).status == "done",
        timeout=90,
        what="both jobs",
    )
    recovery = time.monotonic() - restarted
    _assert_batch_exact(job.pk, total)
    imp = _job(imp.pk)
    assert imp.done == rows_total and all(r["ok"] for r in imp.result["items"])
    assert len({r["email"] for r in imp.result["items"]}) == rows_total
    assert Invitation.objects.filter(email__startswith="invitee").count() == rows_total
    invited = AuditEvent.objects.filter(batch_id=imp.pk, action="accounts.invitation.created")
    assert invited.count() == rows_total
    # The batch disable also tells each disabled user (a security notice),
    # so the server receives those too: judge the invitations among them,
    # and no message of any kind twice.
    invitations = set(
        OutboundEmail.objects.filter(template="invitation").values_list("message_id", flat=True)
    )
    assert len(invitations) == rows_total
    worker.wait_for(
        lambda: invitations <= set(smtp_server.message_ids),
        timeout=60,
        what="every invitation email",
    )
    time.sleep(2)
    received = Counter(smtp_server.message_ids)
    assert max(received.values()) == 1
    assert sum(received[m] for m in invitations) == rows_total
    record(
        "worker SIGKILL mid-job and mid-import",
        lost=0,
        duplicated=0,
        stuck=0,
        at_kill=f"batch {at_kill[0]}/{total}, import {at_kill[1]}/{rows_total}",
        recovery_seconds=round(recovery, 1),
    )


def test_a_chunk_blocked_on_a_row_lock_gives_up_and_emails_go_out_meanwhile(
    worker, beat, smtp_server, admin_user, owner
):
    """Issue 28, F6: a job chunk waited 95 s on a row lock, holding one of
    the worker's slots while emails queued behind it. Workers run under a
    lock timeout (DATABASE_LOCK_TIMEOUT_MS; 1 s here): the chunk gives up
    with a transient error and its task retries later, so the slot is free
    for the email; once the lock is gone the job finishes exactly."""
    import psycopg
    from django.db import connection, transaction

    from accounts.models import User
    from tests.accounts.test_emails_reliability import queue_notice, status_is

    total = 300
    ids = [u.pk for u in make_users(total, prefix="rowlock")]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    holder = psycopg.connect(**params)
    holder.execute(f"SELECT 1 FROM {User._meta.db_table} WHERE id = %s FOR UPDATE", [ids[0]])
    try:
        worker.start(
            concurrency=1, DATABASE_LOCK_TIMEOUT_MS=1000, JOB_MAX_ATTEMPTS=30, **FAST_RECOVERY
        )
        beat.start()
        job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
        time.sleep(3)  # the first chunk has met the lock
        with transaction.atomic():
            email = queue_notice(to="meanwhile@example.com")
        queued = time.monotonic()
        worker.wait_for(status_is(email, "sent"), timeout=30, what="the email, lock held")
        email_seconds = time.monotonic() - queued
        assert _job(job.pk).status in ("pending", "running")
        assert _job(job.pk).done < total
        time.sleep(max(0.0, 10 - (time.monotonic() - queued)))
    finally:
        holder.rollback()
        holder.close()
    released = time.monotonic()
    worker.wait_for(lambda: _job(job.pk).status == "done", timeout=90, what="the job")
    _assert_batch_exact(job.pk, total)
    record(
        "job chunk blocked on a row lock (10 s)",
        lost=0,
        duplicated=0,
        stuck=0,
        email_sent_after_seconds=round(email_seconds, 1),
        job_done_after_release_seconds=round(time.monotonic() - released, 1),
    )
    assert email_seconds < 10  # not behind the lock
