"""Right to erasure: scrub a deleted user's personal data from the audit log."""

import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, normalize_email
from audit.services import audit_scrub_user
from core.services import refusal_text
from rbac.actor import Actor
from rbac.policies import PolicyDenied


class Command(BaseCommand):
    help = (
        "Erase a deleted user's personal data (email, name, phone, IP, user agent) from "
        "the audit events by or about them, keeping the events. The actor must hold "
        "users:delete and the user must already be deleted. audit_verify keeps passing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user-id", required=True, dest="user_id", help="the user's UUID")
        parser.add_argument(
            "--actor", required=True, help="email of the person asking (needs users:delete)"
        )

    def handle(self, *args, user_id, actor, **options):
        try:
            user_key = str(uuid.UUID(user_id.strip()))
        except ValueError:
            raise CommandError(f"--user-id must be a user's UUID, not {user_id!r}.") from None
        person = User.objects.filter(email=normalize_email(actor)).first()
        if person is None:
            raise CommandError(f"No user with the email {actor}.")
        try:
            event = audit_scrub_user(actor=Actor.console(person), user_id=user_key)
        except PolicyDenied as exc:
            raise CommandError(exc.message) from exc
        except ValidationError as exc:
            raise CommandError(refusal_text(exc)) from exc
        if event is None:
            self.stdout.write(f"Nothing to scrub for user {user_key}.")
            return
        scrubbed = event.changes["scrubbed"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Scrubbed personal data from {scrubbed} audit event"
                f"{'s' if scrubbed != 1 else ''} of user {user_key}; "
                f"attested by event {event.pk}."
            )
        )
