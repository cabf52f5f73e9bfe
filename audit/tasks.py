"""Periodic retention, scheduled by beat when AUDIT_RETENTION_DAYS is set."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.services import prune_before


@shared_task
def audit_prune_expired() -> int:
    days = getattr(settings, "AUDIT_RETENTION_DAYS", None)
    if not days:
        return 0
    checkpoint = prune_before(actor=None, before=timezone.now() - dt.timedelta(days=days))
    return checkpoint.changes["removed"] if checkpoint else 0
