import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import users as user_services

DEMO_EMAIL = "owner@handover.local"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / "var" / "demo-owner.txt"


class Command(BaseCommand):
    help = (
        "Development only: create the demo owner once (random password, kept in "
        "var/demo-owner.txt) and print the credentials. Safe to run repeatedly."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_owner is for development (DJANGO_DEBUG=1) only.")
        owner = User.objects.filter(is_owner=True).first()
        if owner is None:
            password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
            owner = user_services.owner_bootstrap(
                email=DEMO_EMAIL, name="Demo Owner", password=password
            )
            CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
            CREDENTIALS_FILE.write_text(f"{owner.email}\n{password}\n")
            CREDENTIALS_FILE.chmod(0o600)
        if CREDENTIALS_FILE.exists():
            email, password = CREDENTIALS_FILE.read_text().split("\n")[:2]
            if email == owner.email:
                self.stdout.write(
                    self.style.SUCCESS("Demo owner — sign in at %s/login/" % settings.SITE_URL)
                )
                self.stdout.write(f"  email:    {email}\n  password: {password}")
                self.stdout.write(
                    f"  MFA policy: {settings.MFA_POLICY} (set MFA_POLICY=managers to require it)"
                )
                return
        self.stdout.write(
            f"The owner is {owner.email} (created outside demo_owner; password not known here)."
        )
