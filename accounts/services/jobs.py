"""Durable background jobs: leases, heartbeats and the sweep that wakes
jobs whose task was lost. Used by batch actions (`batch.batch_job_*`) and
invitation imports (`invitation_import.invitation_import_*`).

The `BatchJob` row is the source of truth; a Celery task is only a wake-up
call. A runner (one task delivery, named by its task id) claims the job by
taking a lease, then runs it chunk by chunk. Each chunk runs in ONE
transaction that also locks the job row, re-reads `done`, does the work,
and writes the progress, the per-item outcomes and a fresh heartbeat and
lease. So:

- a crash anywhere rolls back the chunk together with its progress, and a
  rerun reports exactly what happened (nothing reported "skipped" that was
  in fact done by the crashed run);
- two runners of the same job (a redelivered message, a sweep while a slow
  runner still works) serialise on the row lock and never do a chunk twice;
- each chunk first checks that the credential that queued the job is still
  valid (the session open, the API key not revoked) and its person still
  active; otherwise the job stops as "stopped" with the reason "Credential
  ended: ..." (`policies.job_credential_end`). Ending sessions or revoking
  keys stops the jobs they queued at once (`jobs_stop_with_credentials`);
- a job whose lease runs out (worker SIGKILLed, task lost while the broker
  was down, transient error whose retry could not be queued) is queued
  again by `job_sweep` (beat), and a job that keeps failing to make
  progress is marked failed with the reason after JOB_MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts.models import BatchJob
from audit import events
from audit import services as audit
from core.services import ServiceBusy, service
from core.tasks import wake
from rbac import credentials, policies
from rbac.actor import as_actor

logger = logging.getLogger(__name__)

# Errors that say "not now" rather than "never": the database or the broker
# was unreachable, or a lock was busy. The task retries them with backoff;
# if even that cannot be queued the lease runs out and the sweep takes over.
TRANSIENT = (OperationalError, InterfaceError, BrokerError, ConnectionError, ServiceBusy)

QUEUE_DOWN = (
    "The job queue could not be reached; the job starts automatically as soon as it is back."
)
OPEN = ("pending", "running")
# Ended without finishing: failed (an error or a refusal), cancelled by
# someone, or stopped because the credential that queued it ended. Each can
# be resumed by its creator, who then acts through their credential now.
RESUMABLE = ("failed", "cancelled", "stopped")


class JobFailed(Exception):
    """A chunk that can never succeed (a guard refused, the input is
    invalid): the job stops as failed with this reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def lease_end(now=None):
    return (now or timezone.now()) + settings.JOB_LEASE


def retry_delay(retries: int) -> float:
    """Backoff for a transient error: base * 2**retries with jitter, capped."""
    base = settings.JOB_RETRY_BASE_SECONDS * (2**retries)
    return min(base, settings.JOB_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)


def job_enqueue(job_id, kind: str) -> bool:
    """Queue a wake-up call for a job (run it inline when tasks are eager).
    Never raises: when the broker is unreachable the job row says so and
    its lease is cut short, so the first sweep after the broker is back
    queues it."""
    task = (
        "accounts.tasks.invitation_import" if kind == "import" else "accounts.tasks.users_batch_run"
    )
    try:
        wake(task, str(job_id))
    except Exception as exc:
        logger.warning("could not queue %s job %s: %s", kind, job_id, exc)
        try:
            BatchJob.objects.filter(pk=job_id, status="pending").update(
                last_error=QUEUE_DOWN, lease_until=timezone.now()
            )
        except TRANSIENT:
            logger.warning("could not record the queue failure on job %s", job_id)
        return False
    return True


def job_claim(job_id, *, runner: str) -> BatchJob | None:
    """Take the job for `runner` if it is open and nobody else holds a live
    lease (the same runner -- a redelivered or retried task keeps its id --
    may take it back; a job the sweep released has no runner). Returns the
    job, or None if there is nothing to do."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in OPEN:
            return None
        now = timezone.now()
        held = job.status == "running" and job.lease_until and job.lease_until > now
        if held and job.runner not in ("", runner):
            return None
        job.status = "running"
        job.runner = runner
        job.heartbeat_at = now
        job.lease_until = lease_end(now)
        job.attempts += 1
        job.last_error = ""
        job.save(
            update_fields=[
                "status",
                "runner",
                "heartbeat_at",
                "lease_until",
                "attempts",
                "last_error",
            ]
        )
        return job


def job_run(job_id, *, runner: str, step: Callable[[BatchJob], None]) -> str:
    """Run a job to its end. `step(job)` does the next chunk: it reads
    `job.done`, does the work and advances `job.done` and `job.result` in
    memory; it runs inside the chunk transaction with the job row locked,
    and raises `JobFailed` for a reason that will not go away. Transient
    errors propagate (the task retries them); anything else marks the job
    failed. Returns the job's status when this runner stops."""
    if job_claim(job_id, runner=runner) is None:
        return "skipped"
    while True:
        try:
            with transaction.atomic():
                job = (
                    BatchJob.objects.select_for_update(of=("self",))
                    .select_related("actor")
                    .get(pk=job_id)
                )
                if job.status != "running" or job.runner != runner:
                    return job.status  # cancelled, or taken over after our lease ran out
                now = timezone.now()
                if job.done >= job.total:
                    job.status = "done"
                    job.finished_at = now
                    job.lease_until = None
                    job.heartbeat_at = now
                    job.save(update_fields=["status", "finished_at", "lease_until", "heartbeat_at"])
                    return "done"
                ended = policies.job_credential_end(job, job.actor)
                if ended:
                    _mark_stopped(job, ended)
                    return "stopped"
                try:
                    with transaction.atomic():
                        step(job)
                except JobFailed as exc:
                    _mark_failed(job, exc.reason)
                    return "failed"
                job.heartbeat_at = timezone.now()
                job.lease_until = lease_end(job.heartbeat_at)
                job.attempts = 0
                job.save(
                    update_fields=["done", "result", "heartbeat_at", "lease_until", "attempts"]
                )
        except TRANSIENT:
            raise
        except Exception as exc:
            logger.exception("job %s stopped on an unexpected error", job_id)
            job_fail(job_id, reason=f"Stopped on an unexpected error ({exc.__class__.__name__}).")
            return "failed"


def _mark_failed(job: BatchJob, reason: str) -> None:
    job.status = "failed"
    job.last_error = reason
    job.result = {**(job.result or {}), "success": False, "failure": reason}
    job.finished_at = timezone.now()
    job.lease_until = None
    job.save(update_fields=["status", "last_error", "result", "finished_at", "lease_until"])


def _mark_stopped(job: BatchJob, reason: str) -> None:
    job.status = "stopped"
    job.last_error = reason
    job.finished_at = timezone.now()
    job.lease_until = None
    job.save(update_fields=["status", "last_error", "finished_at", "lease_until"])


def jobs_stop_with_credentials(*, session_keys=(), key_ids=()) -> int:
    """Stop the open jobs queued through these sessions or API keys, which
    just ended (signed out, ended by someone, revoked): a job dies with the
    credential that queued it. Never waits: a job in the middle of a chunk
    (its row locked by the runner) is left to the runner, whose next chunk
    finds the credential ended (`policies.job_credential_end`) -- signing
    out must not wait on a batch. No audit row: the caller records the
    ending that caused it. Returns how many jobs stopped here."""
    session_keys, key_ids = list(session_keys), list(key_ids)
    through = Q(pk__in=[])
    if session_keys:
        through |= Q(created_via=credentials.SESSION, created_via_session__in=session_keys)
        reason = "Credential ended: the session it was made in has ended."
    if key_ids:
        through |= Q(created_via=credentials.API_KEY, created_via_key_id__in=key_ids)
        reason = "Credential ended: the API key it was made through was revoked or has expired."
    if not (session_keys or key_ids):
        return 0
    with transaction.atomic():
        free = list(
            BatchJob.objects.select_for_update(skip_locked=True)
            .filter(through, status__in=OPEN)
            .values_list("pk", flat=True)
        )
        return BatchJob.objects.filter(pk__in=free).update(
            status="stopped", last_error=reason, finished_at=timezone.now(), lease_until=None
        )


def job_fail(job_id, *, reason: str) -> None:
    """Stop an open job as failed with a reason people can read."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id, status__in=OPEN).first()
        if job is not None:
            _mark_failed(job, reason)


def job_sweep(*, limit: int = 100) -> int:
    """Periodic (beat): queue again the open jobs whose lease ran out. A job
    that was claimed JOB_MAX_ATTEMPTS times without finishing a chunk is
    marked failed (it can be resumed from its page). Returns how many jobs
    were queued."""
    now = timezone.now()
    wake: list[BatchJob] = []
    with transaction.atomic():
        stale = (
            BatchJob.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN, lease_until__lt=now)
            .order_by("lease_until")[:limit]
        )
        for job in stale:
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                _mark_failed(
                    job,
                    f"No progress after {job.attempts} attempts"
                    + (f" (last error: {job.last_error})" if job.last_error else "")
                    + ". Resume it once the cause is fixed.",
                )
                continue
            # The job is nobody's now (a runner that is merely slow stops at
            # its next chunk); the new task has a lease period to claim it
            # before the next sweep queues it again.
            BatchJob.objects.filter(pk=job.pk).update(runner="", lease_until=lease_end(now))
            wake.append(job)
    queued = 0
    for job in wake:
        if not job_enqueue(job.pk, job.kind):
            break  # the broker is down; the next sweep tries again
        queued += 1
    return queued


# --- people act on jobs -------------------------------------------------------


@service
def job_cancel(*, actor, job: BatchJob) -> BatchJob:
    """Stop an open job. The chunk running now finishes (it commits with its
    progress); the runner stops before the next one."""
    action = events.JOB_CANCELLED
    policies.check_can_cancel_job(actor, job, action=action)
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in OPEN:
        return job
    before = job.status
    job.status = "cancelled"
    job.finished_at = timezone.now()
    job.lease_until = None
    job.save(update_fields=["status", "finished_at", "lease_until"])
    audit.record(
        action,
        actor=actor,
        target=_target(job),
        changes={"status": [before, job.status], "done": [job.done, job.done]},
        batch_id=job.pk,
    )
    return job


@service
def job_resume(*, actor, job: BatchJob) -> BatchJob:
    """Start a failed, cancelled or stopped job again where it stopped (with
    a fresh attempt budget), acting from now on through the credential the
    creator resumes it with; it is queued after commit."""
    action = events.JOB_RESUMED
    policies.check_can_resume_job(actor, job, action=action)
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in RESUMABLE:
        raise ValidationError(
            "Only a failed, cancelled or stopped job can be resumed; this one is %(status)s.",
            code="not_resumable",
            params={"status": job.status},
        )
    before = job.status
    job.status = "pending"
    job.attempts = 0
    job.last_error = ""
    job.finished_at = None
    job.runner = ""
    job.lease_until = lease_end()
    job.result = {k: v for k, v in (job.result or {}).items() if k != "failure"}
    if "success" in job.result:
        job.result["success"] = True
    job.record_credential(as_actor(actor).credential)
    job.save(
        update_fields=[
            "created_via",
            "created_via_session",
            "created_via_key",
            "status",
            "attempts",
            "last_error",
            "finished_at",
            "runner",
            "lease_until",
            "result",
        ]
    )
    audit.record(
        action,
        actor=actor,
        target=_target(job),
        changes={"status": [before, "pending"]},
        batch_id=job.pk,
    )
    kind = job.kind
    transaction.on_commit(lambda: job_enqueue(job.pk, kind))
    return job


def _target(job: BatchJob) -> audit.Target:
    return audit.Target("batch", str(job.pk), f"{job.action} × {job.total}")
