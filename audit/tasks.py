"""Periodic retention, scheduled by beat when AUDIT_RETENTION_DAYS is set;
the sealer, linking committed events into the chain (nudged after a
commit that wrote events, and every AUDIT_SEAL_SECONDS)."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import prune_before, seal_nudged


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
def audit_seal(self) -> int:
    """Seal the committed events (audit.services.sealer). In a worker it
    waits for the chain's lock (bounded; a ServiceBusy is left to beat's
    next run); run inline (eager, no broker) it never waits: the request
    whose commit woke it must not."""
    from core.services import ServiceBusy

    try:
        return seal_nudged(wait=not self.request.is_eager)
    except ServiceBusy:
        return 0
