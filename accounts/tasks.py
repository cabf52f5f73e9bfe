"""Celery tasks: thin shells that load by id and call a service."""

import logging

from celery import shared_task
from django.conf import settings

from accounts.services import batch, emails, jobs, purge, self_deletion
from accounts.services import invitation_import as import_services
from rbac.actor import Actor

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def email_send(self, email_id: str) -> str:
    """Deliver one outbox row, and the other due rows its batch took, over
    one SMTP connection. The retry budget lives in the rows (attempts,
    next_attempt_at), not in Celery, so a retry scheduled here and a sweep
    agree on what is due: each row of the batch that failed and is to be
    tried again gets its task at its time. Eager mode (development without a
    broker) does not retry inline: the sweep picks the row up when it is
    due."""
    batch = emails.email_deliver_batch(email_id)
    if self.request.is_eager:
        return batch.first.status
    own = None
    for pk, retry_in in batch.retries().items():
        if str(pk) == str(email_id):
            own = retry_in
        else:
            email_send.apply_async((str(pk),), countdown=retry_in)
    if own is not None:
        raise self.retry(countdown=own, max_retries=None)
    return batch.first.status


@shared_task(ignore_result=True)
def email_sweep() -> int:
    """Periodic (beat): queue again the pending emails whose task was lost."""
    return emails.email_sweep()


def _run_job(task, run, job_id: str) -> str:
    """Run a durable job; a transient error (database or broker unreachable,
    a busy lock) is retried with backoff. If even the retry cannot be queued
    the job keeps its lease and the sweep queues it when the lease runs out,
    so a job is never left half-done without a task for longer than that.
    Eager mode (no broker) does not retry inline; the sweep takes over."""
    try:
        return run(job_id, runner=task.request.id or "")
    except jobs.TRANSIENT as exc:
        if task.request.is_eager:
            logger.warning("job %s stopped on a transient error; the sweep resumes it", job_id)
            return "retry"
        raise task.retry(
            exc=exc,
            countdown=jobs.retry_delay(task.request.retries),
            max_retries=settings.JOB_TASK_MAX_RETRIES,
        ) from exc


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def invitation_import(self, job_id: str) -> str:
    """Wake up a large invitation import (accounts.services.invitation_import)."""
    return _run_job(self, import_services.invitation_import_run, job_id)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def users_batch_run(self, job_id: str) -> str:
    """Wake up a queued batch action (accounts.services.batch)."""
    return _run_job(self, batch.batch_job_run, job_id)


@shared_task(ignore_result=True)
def job_sweep() -> int:
    """Periodic (beat): queue again the jobs whose lease ran out."""
    return jobs.job_sweep()


@shared_task(ignore_result=True)
def users_purge_expired() -> int:
    """Periodic (beat): carry out the self-deletions whose cooling-off
    ended, then remove for good the users whose restore window ended --
    as the system, never a person."""
    actor = Actor.system()
    self_deletion.deletions_carry_out_due(actor=actor)
    return purge.users_purge_expired(actor=actor)
