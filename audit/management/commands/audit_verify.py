"""Walk the audit hash chain and report the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEvent
from audit.services import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain under AUDIT_CHAIN_KEY; exits non-zero at the "
        "first broken link."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="print the newest verified event as id:hash, to keep outside the database",
        )
        parser.add_argument(
            "--anchor",
            metavar="ID:HASH",
            help="a checkpoint printed earlier: the chain must still pass through it",
        )

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.ok:
            raise CommandError(str(report))
        if options["anchor"]:
            self._check_anchor(options["anchor"])
        self.stdout.write(self.style.SUCCESS(str(report)))
        if options["checkpoint"]:
            self.stdout.write(f"Checkpoint: {report.checkpoint}")

    def _check_anchor(self, anchor: str):
        event_id, _, digest = anchor.partition(":")
        if not event_id.isdigit() or not digest:
            raise CommandError("--anchor takes the id:hash that --checkpoint printed.")
        stored = AuditEvent.objects.filter(pk=int(event_id)).values_list("hash", flat=True)
        stored = stored.first()
        if stored is None:
            raise CommandError(
                f"Anchor {event_id} is not in the audit log (removed, or pruned since)."
            )
        if stored != digest:
            raise CommandError(
                f"Anchor {event_id} does not match: the chain was rewritten since the "
                "checkpoint was taken."
            )
        self.stdout.write(f"Anchor {event_id} found in the chain.")
