"""Celery tasks: thin shells that load by id and call a service."""

from celery import shared_task

from accounts.services import emails


@shared_task(acks_late=True, reject_on_worker_lost=True)
def email_send(email_id: str) -> str:
    return emails.email_deliver(email_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def users_batch_run(job_id: str) -> str:
    """Run a queued batch action (accounts.services.batch)."""
    from accounts.services.batch import batch_job_run

    return batch_job_run(job_id)
