"""Periodic retention, scheduled by beat when AUDIT_RETENTION_DAYS is set;
linking pending audit events into the chain (woken after a sign-in found
the chain's lock taken, and every AUDIT_PENDING_DRAIN_SECONDS)."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import drain_pending, prune_before


@shared_task
def audit_prune_expired() -> int:
    days = getattr(settings, "AUDIT_RETENTION_DAYS", None)
    if not days:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Workers run statements under a 120 s timeout (a stuck job chunk
            # retries); the first prune of a long history may take longer.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 0")
        checkpoint = prune_before(actor=None, before=timezone.now() - dt.timedelta(days=days))
    return checkpoint.changes["removed"] if checkpoint else 0


@shared_task(bind=True, ignore_result=True)
def audit_drain_pending(self) -> int:
    """Link pending audit events into the chain. In a worker it waits for
    the chain's lock like any writer (a ServiceBusy is left to beat's next
    run); run inline (eager, no broker) it never waits: the request that
    woke it must not."""
    from core.services import ServiceBusy

    try:
        return drain_pending(wait=not self.request.is_eager)
    except ServiceBusy:
        return 0
