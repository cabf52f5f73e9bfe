"""Fill the database with demo users, fast (bulk inserts, no hashing per
user), for trying the dashboard and for benchmarks. Idempotent: users that
already exist (by email) are left alone."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts.models import User
from audit.models import AuditEvent, Outcome
from audit.services import HASHED_FIELDS, chain_tail, compute_hash, lock_chain
from rbac.models import Membership, Organization, Role, UserRole

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
    "Sophie",
    "Yukihiro",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Wirth",
]
DOMAIN = "demo.handover.local"
CHUNK = 5000
AUDIT_CHUNK = 10000
SEED_REQUEST_ID = "seed-demo"
AUDIT_COLUMNS = HASHED_FIELDS
# (action, outcome) with rough real-life frequencies.
AUDIT_ACTIONS = (
    [("accounts.login.succeeded", Outcome.SUCCESS)] * 12
    + [("accounts.login.failed", Outcome.FAILED)] * 4
    + [("accounts.logout", Outcome.SUCCESS)] * 4
    + [("accounts.profile.updated", Outcome.SUCCESS)] * 2
    + [("accounts.user.banned", Outcome.SUCCESS), ("accounts.user.disabled", Outcome.SUCCESS)]
    + [("rbac.user_role.assigned", Outcome.SUCCESS), ("accounts.user.banned", Outcome.DENIED)]
    + [("accounts.user.created", Outcome.SUCCESS), ("accounts.password.changed", Outcome.SUCCESS)]
)

# What people do to their own account: the actor is the target, as the
# services record it. A failed sign-in has no actor, only the address typed.
SELF_ACTIONS = {
    "accounts.login.succeeded",
    "accounts.logout",
    "accounts.profile.updated",
    "accounts.password.changed",
}
ANONYMOUS_ACTIONS = {"accounts.login.failed"}


def _membership(user, organization) -> Membership:
    # bulk_create skips `Membership.save()`, which copies the user's
    # creation time for the organization's newest-first index.
    return Membership(user=user, organization=organization, user_created_at=user.created_at)


class Command(BaseCommand):
    help = "Create N demo users (default 200) with mixed statuses, roles and sign-ins."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=200, help="how many demo users in total")
        parser.add_argument(
            "--audit-events",
            type=int,
            default=0,
            help="how many demo audit events in total (chained, spread over two years)",
        )
        parser.add_argument(
            "--organizations",
            type=int,
            default=0,
            help="spread the new users across this many organizations (about 10%% in two); "
            "the first member of each holds the org-admin role there",
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed (same data each run)")
        parser.add_argument(
            "--force", action="store_true", help="allow running with DJANGO_DEBUG=0"
        )

    def handle(
        self,
        *args,
        users: int,
        seed: int,
        force: bool,
        audit_events: int = 0,
        organizations: int = 0,
        **options,
    ):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo writes demo users; it refuses to run with DJANGO_DEBUG=0. "
                "Pass --force if this really is a benchmark database."
            )
        if users < 0 or users > 5_000_000:
            raise CommandError("--users must be between 0 and 5,000,000.")
        if audit_events < 0 or audit_events > 20_000_000:
            raise CommandError("--audit-events must be between 0 and 20,000,000.")
        if organizations < 0 or organizations > 100_000:
            raise CommandError("--organizations must be between 0 and 100,000.")
        orgs = self._organizations(organizations)
        org_admin = Role.objects.filter(slug="org-admin").first()
        seen_orgs = set(
            Membership.objects.filter(organization__in=orgs).values_list(
                "organization_id", flat=True
            )
        )
        rng = random.Random(seed)
        now = timezone.now()
        password = make_password("demo-password-not-for-production")
        existing = set(
            User.objects.filter(email__endswith="@" + DOMAIN).values_list("email", flat=True)
        )
        roles = {r.slug: r for r in Role.objects.filter(slug__in=["admin", "editor", "viewer"])}
        created = 0
        for start in range(0, users, CHUNK):
            batch, links, devices, joins, scoped = [], [], [], [], []
            for i in range(start, min(start + CHUNK, users)):
                email = f"user{i:07d}@{DOMAIN}"
                if email in existing:
                    continue
                user = self._user(rng, i, email, now, password)
                batch.append(user)
                pick = rng.random()
                slug = (
                    "viewer"
                    if pick < 0.25
                    else "editor"
                    if pick < 0.32
                    else "admin"
                    if pick < 0.33
                    else None
                )
                if orgs:
                    home = orgs[i % len(orgs)]
                    joins.append(_membership(user, home))
                    if home.pk not in seen_orgs and org_admin is not None:
                        seen_orgs.add(home.pk)
                        scoped.append(UserRole(user=user, role=org_admin, organization=home))
                        slug = None  # an organization's administrator, not a global one
                    elif len(orgs) > 1 and rng.random() < 0.1:
                        second = orgs[(i + 1) % len(orgs)]
                        joins.append(_membership(user, second))
                if slug and slug in roles:
                    links.append((user, roles[slug]))
                # Managers mostly have an authenticator app; members sometimes.
                if user.last_login and rng.random() < (0.7 if slug in ("admin", "editor") else 0.1):
                    devices.append(
                        TOTPDevice(
                            user=user, name="Authenticator", confirmed=True, key=random_hex()
                        )
                    )
            with transaction.atomic():
                User.objects.bulk_create(batch, batch_size=1000, ignore_conflicts=True)
                UserRole.objects.bulk_create(
                    [UserRole(user=u, role=r) for u, r in links],
                    batch_size=1000,
                    ignore_conflicts=True,
                )
                TOTPDevice.objects.bulk_create(devices, batch_size=1000)
                Membership.objects.bulk_create(joins, batch_size=1000, ignore_conflicts=True)
                UserRole.objects.bulk_create(scoped, batch_size=1000, ignore_conflicts=True)
            created += len(batch)
            self.stdout.write(f"  {min(start + CHUNK, users):,} / {users:,}", ending="\r")
        if connection.vendor == "postgresql" and created:
            # Fresh planner statistics, or PostgreSQL plans for an empty table.
            with connection.cursor() as cursor:
                # Memberships too: unanalysed, PostgreSQL guessed 230,000 of
                # them for a page's 50 users and read the whole table (issue 29).
                cursor.execute(
                    f"ANALYZE {User._meta.db_table}, {UserRole._meta.db_table}, "
                    f"{TOTPDevice._meta.db_table}, {Membership._meta.db_table}, "
                    f"{Organization._meta.db_table}"
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"\nseed_demo: {created:,} users created, {len(existing):,} already there."
            )
        )
        if audit_events:
            self._audit(rng, audit_events, now)

    def _organizations(self, count: int) -> list:
        """Demo organizations demo-0001 ... (created once, reused)."""
        if not count:
            return []
        Organization.objects.bulk_create(
            [
                Organization(slug=f"demo-{n:04d}", name=f"Demo Organization {n:04d}")
                for n in range(1, count + 1)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        return list(Organization.objects.filter(slug__startswith="demo-").order_by("slug")[:count])

    def _audit(self, rng, total: int, now) -> None:
        """Chained audit events (the same hash chain `record` writes, so
        `audit_verify` passes), marked by their request id; only the
        missing ones are added."""
        have = AuditEvent.objects.filter(request_id=SEED_REQUEST_ID).count()
        missing = total - have
        if missing <= 0:
            self.stdout.write(f"seed_demo: {have:,} demo audit events already there.")
            return
        people = list(
            User.objects.filter(email__endswith="@" + DOMAIN)
            .order_by("email")
            .values_list("id", "email")[:5000]
        ) or [(None, "system")]
        actors = people[:50]
        start = now - timedelta(days=730)
        step = timedelta(days=730) / max(missing, 1)
        # One transaction per chunk (an interrupted run keeps what it wrote),
        # each chained from the chain's tail under the chain's (the sealer's)
        # lock: the seed does the sealer's job for its own events.
        for offset in range(0, missing, AUDIT_CHUNK):
            with transaction.atomic():
                lock_chain()
                seq, prev = chain_tail()
                events = []
                for i in range(offset, min(offset + AUDIT_CHUNK, missing)):
                    action, outcome = rng.choice(AUDIT_ACTIONS)
                    actor_id, actor_label = rng.choice(actors)
                    target_id, target_label = rng.choice(people)
                    if action in SELF_ACTIONS:
                        actor_id, actor_label = target_id, target_label
                    elif action in ANONYMOUS_ACTIONS:
                        actor_id, actor_label = None, target_label
                    # Only the fields the hash covers: cheaper than a model
                    # instance, the same canonical form.
                    event = SimpleNamespace(
                        created_at=start + step * i,
                        actor_id=actor_id,
                        actor_label=actor_label,
                        action=action,
                        target_type="user",
                        target_id=str(target_id or ""),
                        target_label=target_label,
                        ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                        user_agent="seed_demo",
                        request_id=SEED_REQUEST_ID,
                        batch_id=None,
                        reason="",
                        outcome=str(outcome),
                        changes={},
                        acting_for_id=None,
                        acting_for_label="",
                        organization_id=None,
                    )
                    seq += 1
                    event.seq, event.prev_hash = seq, prev
                    event.hash = prev = compute_hash(event, prev)
                    events.append(event)
                self._insert_events(events)
            self.stdout.write(f"  {offset + len(events):,} / {missing:,} events", ending="\r")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {AuditEvent._meta.db_table}")
        self.stdout.write(self.style.SUCCESS(f"\nseed_demo: {missing:,} audit events created."))

    def _insert_events(self, events) -> None:
        """COPY on PostgreSQL (several times faster than INSERT for a
        million rows), bulk_create elsewhere."""
        columns = [*AUDIT_COLUMNS, "seq", "prev_hash", "hash"]
        if connection.vendor != "postgresql":
            AuditEvent.objects.bulk_create(
                [AuditEvent(**{c: getattr(e, c) for c in columns}) for e in events],
                batch_size=2000,
            )
            return
        table = AuditEvent._meta.db_table
        names = ", ".join(AuditEvent._meta.get_field(c).column for c in columns)
        sql = f"COPY {table} ({names}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for e in events:
                copy.write_row(
                    [json.dumps(e.changes) if c == "changes" else getattr(e, c) for c in columns]
                )

    def _user(self, rng, i, email, now, password) -> User:
        created_at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 730))
        user = User(
            email=email,
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            created_at=created_at,
            password=password,
            email_verified_at=created_at,
            password_changed_at=created_at,
        )
        if rng.random() < 0.8:
            user.last_login = created_at + (now - created_at) * rng.random()
        roll = rng.random()
        if roll < 0.05:
            user.password = "!" + "demo-invited"  # unusable: invited
            user.email_verified_at = None
            user.last_login = None
        elif roll < 0.10:
            user.email_verified_at = None
        elif roll < 0.13:
            user.disabled_at = now - timedelta(days=rng.randint(1, 90))
        elif roll < 0.15:
            user.banned_until = now + timedelta(days=rng.choice([1, 7, 30, 36500]))
            user.ban_reason = "Demo ban"
        elif roll < 0.16:
            user.deleted_at = now - timedelta(days=rng.randint(0, 40))
        return user
