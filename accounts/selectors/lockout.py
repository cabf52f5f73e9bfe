"""Who is locked out of signing in, until when, and their recent failed
sign-ins: read from django-axes' attempt rows (the counter the sign-in
checks) and from the audit log (what people read)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Exists
from django.utils import timezone

from accounts.security import locked_per_address
from audit import events
from audit.models import AuditEvent

FAILED_SIGNIN_ACTIONS = (events.LOGIN_FAILED, events.LOGIN_LOCKED_OUT)


@dataclass(frozen=True)
class Lock:
    """A lock on signing in. `addresses` is empty for an account-wide lock;
    for an account locked per address (one that manages users) it names the
    addresses that are shut out while everyone else may still sign in."""

    until: datetime
    addresses: tuple[str, ...] = ()

    @property
    def per_address(self) -> bool:
        return bool(self.addresses)


def _locked_until(rows, now) -> datetime | None:
    """When the lock these attempt rows make ends, or None if they make
    none. Axes sums the failures of the rows tried within the cool-off, so
    the lock lasts until enough of the newest rows have aged out that the
    rest sum below the limit."""
    total = 0
    for row in sorted(rows, key=lambda r: r.attempt_time, reverse=True):
        total += row.failures_since_start
        if total >= settings.AXES_FAILURE_LIMIT:
            until = row.attempt_time + settings.AXES_COOLOFF_TIME
            return until if until > now else None
    return None


def _lock_of(user, rows, now, permissions=None) -> Lock | None:
    if locked_per_address(user, permissions):
        by_address = defaultdict(list)
        for row in rows:
            by_address[row.ip_address or "unknown"].append(row)
        locks = {ip: _locked_until(r, now) for ip, r in by_address.items()}
        locks = {ip: until for ip, until in locks.items() if until}
        if not locks:
            return None
        return Lock(until=max(locks.values()), addresses=tuple(sorted(locks)))
    until = _locked_until(rows, now)
    return Lock(until=until) if until else None


def cooloff_start(now):
    """The oldest attempt time that can still lock anyone at `now`."""
    return now - settings.AXES_COOLOFF_TIME


def _attempts_since(since):
    return AccessAttempt.objects.filter(attempt_time__gte=since)


def _recent_attempts(emails, now):
    """The attempt rows of `emails` recent enough to lock anyone now."""
    return _attempts_since(cooloff_start(now)).filter(username__in=list(emails))


def tried_since(email, since) -> Exists:
    """Whether `email` (an expression: `OuterRef("email")`) has attempt
    rows since `since` -- with `cooloff_start(now)`, the rows `user_locks`
    reads -- as an EXISTS a page's own query can carry: only users with
    some can be locked, so the users list asks `user_locks` about those
    alone (most pages: none, and no query)."""
    return Exists(_attempts_since(since).filter(username=email))


def user_lock(user) -> Lock | None:
    """The lock on `user` signing in now, or None."""
    now = timezone.now()
    return _lock_of(user, list(_recent_attempts([user.email], now)), now)


def user_locks(users, permissions=None) -> dict:
    """{user pk: Lock} for those of `users` who are locked: one query (plus
    the permissions of users with attempts, to tell per-address locks,
    unless `permissions` gives them: {pk: permissions}, what
    `rbac.selectors.prime_permissions` answers)."""
    users = list(users)
    permissions = permissions or {}
    now = timezone.now()
    rows = defaultdict(list)
    for row in _recent_attempts({u.email for u in users}, now):
        rows[row.username].append(row)
    locks = {}
    for user in users:
        if user.email in rows:
            lock = _lock_of(user, rows[user.email], now, permissions.get(user.pk))
            if lock is not None:
                locks[user.pk] = lock
    return locks


def user_failed_signins(user, *, limit: int = 10):
    """The latest failed sign-ins as `user` (wrong passwords and codes,
    refusals while locked), newest first."""
    return AuditEvent.objects.filter(
        target_id=str(user.pk), action__in=FAILED_SIGNIN_ACTIONS
    ).order_by("-id")[:limit]
