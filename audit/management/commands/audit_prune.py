"""Retention: remove audit events older than a date, leaving a checkpoint."""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.services import prune_before


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--before must be a date like 2024-01-31, not {value!r}.") from None
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class Command(BaseCommand):
    help = (
        "Remove audit events created before --before (UTC midnight), or older than "
        "AUDIT_RETENTION_DAYS when no date is given. Records a checkpoint event so "
        "audit_verify keeps passing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", help="YYYY-MM-DD: remove events created before this day")

    def handle(self, *args, before=None, **options):
        if before:
            cutoff = _date(before)
        elif getattr(settings, "AUDIT_RETENTION_DAYS", None):
            cutoff = timezone.now() - dt.timedelta(days=settings.AUDIT_RETENTION_DAYS)
        else:
            raise CommandError("Give --before YYYY-MM-DD (or set AUDIT_RETENTION_DAYS).")
        if cutoff > timezone.now():
            raise CommandError("--before cannot be in the future.")
        checkpoint = prune_before(actor=None, before=cutoff)
        if checkpoint is None:
            self.stdout.write(f"No audit events before {cutoff:%Y-%m-%d %H:%M} UTC.")
            return
        removed = checkpoint.changes["removed"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {removed} audit event{'s' if removed != 1 else ''} created before "
                f"{cutoff:%Y-%m-%d %H:%M} UTC; checkpoint event {checkpoint.pk}."
            )
        )
