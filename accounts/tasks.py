"""Celery tasks: thin shells that load by id and call a service."""

from celery import shared_task

from accounts.services import emails


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def email_send(self, email_id: str) -> str:
    """Deliver one outbox row. The retry budget lives in the row (attempts,
    next_attempt_at), not in Celery, so a retry scheduled here and a sweep
    agree on what is due. Eager mode (development without a broker) does not
    retry inline: the sweep picks the row up when it is due."""
    outcome = emails.email_deliver(email_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status


@shared_task(ignore_result=True)
def email_sweep() -> int:
    """Periodic (beat): queue again the pending emails whose task was lost."""
    return emails.email_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def invitation_import(job_id: str) -> None:
    """A large invitation import (resumable: done rows are skipped)."""
    from accounts.services.invitations import invitation_import_run

    invitation_import_run(job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def users_batch_run(job_id: str) -> str:
    """Run a queued batch action (accounts.services.batch)."""
    from accounts.services.batch import batch_job_run

    return batch_job_run(job_id)
