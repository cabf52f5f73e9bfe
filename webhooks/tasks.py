"""Celery tasks: thin shells around `webhooks.services.deliveries`."""

from celery import shared_task

from webhooks.services import deliveries, hygiene


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def webhook_send(self, delivery_id: int) -> str:
    """Send one delivery. The retry budget lives in the row (attempts,
    next_attempt_at), so a retry scheduled here and the sweep agree on what
    is due; eager mode leaves retries to the sweep."""
    outcome = deliveries.delivery_deliver(delivery_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status


@shared_task(ignore_result=True)
def webhook_sweep() -> int:
    """Periodic (beat): queue again the deliveries whose task was lost."""
    return deliveries.delivery_sweep()


@shared_task(ignore_result=True)
def webhook_prune() -> int:
    """Periodic (beat, daily): remove deliveries past WEBHOOKS_RETENTION_DAYS."""
    return hygiene.delivery_prune()
