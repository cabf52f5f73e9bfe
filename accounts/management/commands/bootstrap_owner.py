import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import users as user_services
from core.services import refusal_text


class Command(BaseCommand):
    help = "Create the single owner account (first run). Refuses when an owner exists."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--password",
            help="Set this password (avoid on shared machines: it stays in shell history). "
            "Without it you are prompted.",
        )
        parser.add_argument("--no-input", action="store_true", dest="no_input")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Exit quietly when an owner already exists (for repeatable set-up scripts).",
        )

    def handle(self, *args, email, name, password, no_input, if_missing, **options):
        existing = User.objects.filter(is_owner=True).first()
        if existing is not None:
            if if_missing:
                self.stdout.write(f"An owner already exists: {existing.email}")
                return
            raise CommandError(f"An owner already exists ({existing.email}); nothing was changed.")
        if password is None:
            if no_input:
                raise CommandError("--password is required with --no-input.")
            password = getpass.getpass("Password for the owner: ")
        try:
            user = user_services.owner_bootstrap(email=email, name=name, password=password)
        except ValidationError as exc:
            raise CommandError(refusal_text(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Owner created: {user.email}"))
