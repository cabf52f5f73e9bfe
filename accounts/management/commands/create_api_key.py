from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User, normalize_email
from accounts.services.api_keys import api_key_create
from core.services import refusal_text
from rbac.actor import Actor
from rbac.policies import PolicyDenied


class Command(BaseCommand):
    help = (
        "Create an API key for a user and print it once. The key acts as that user, "
        "limited to the given permissions (which the user must hold)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="email of the key's user")
        parser.add_argument("--name", required=True)
        parser.add_argument("--template", help="viewer, operator, manager or full_access")
        parser.add_argument("--permissions", nargs="*", default=[])
        parser.add_argument("--expires-in", type=int, dest="expires_in", help="days")

    def handle(self, *args, user, name, template, permissions, expires_in, **options):
        owner = User.objects.filter(email=normalize_email(user)).first()
        if owner is None:
            raise CommandError(f"No user with the email {user}.")
        try:
            # The user creates their own key: the escalation guard limits the
            # scopes to what they hold, exactly as on the API keys page.
            key, raw = api_key_create(
                actor=Actor.console(owner),
                name=name,
                scopes=permissions,
                template=template,
                expires_in_days=expires_in,
            )
        except PolicyDenied as exc:
            raise CommandError(exc.message) from exc
        except ValidationError as exc:
            raise CommandError(refusal_text(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"API key “{key.name}” for {owner.email}:"))
        self.stdout.write(raw)
        self.stdout.write("Store it now; it is not shown again.")
