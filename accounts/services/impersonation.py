"""Viewing the dashboard as another user (issue 26): start and stop.

The view itself is state of the operator's own dashboard session (the
entry point keeps `SESSION_KEY` in it); `accounts.middleware` turns it into
`Actor.for_impersonation` on each request, re-asking the guard, and ends it
when it expired or is no longer allowed. Everything done meanwhile is
refused by the services' write gate (`rbac.policies.impersonation`)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services.common import lock_user
from accounts.services.notices import notify_security
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies

# Where the operator's session keeps the view: {"user": id, "started": iso,
# "expires": iso, "reason": text}.
SESSION_KEY = "hv_impersonation"

STARTED = events.IMPERSONATION_STARTED
STOPPED = events.IMPERSONATION_STOPPED
EXPIRED = events.IMPERSONATION_EXPIRED
ENDED = events.IMPERSONATION_ENDED


def now() -> dt.datetime:
    """The clock views are started and expired by (a seam for tests that
    move time forward, as Django's token generator has `_now`)."""
    return timezone.now()


def max_duration() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "IMPERSONATION_MAX_MINUTES", 30)))


@service
def impersonation_start(*, actor, user, reason: str) -> dict:
    """Start viewing as `user`: the guard on the locked row, then a reason
    (required), an audit row and, unless IMPERSONATION_NOTIFY_USER is off,
    an email to the user. Returns the state the entry point keeps in the
    operator's session (`SESSION_KEY`)."""
    user = lock_user(user)
    policies.check_can_impersonate(actor, user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why you need to view as this user.", code="reason_required")
    if not user.is_active:
        raise ValidationError(
            "Only an active account can be viewed as (this one cannot sign in).",
            code="inactive",
        )
    started = now()
    expires = started + max_duration()
    audit.record(
        STARTED,
        actor=actor,
        target=user,
        reason=reason,
        changes={"expires_at": [None, expires.isoformat()]},
    )
    if getattr(settings, "IMPERSONATION_NOTIFY_USER", True):
        notify_security(
            user,
            "impersonation_started",
            actor_name=actor.display_name or actor.email,
            reason=reason,
        )
    return {
        "user": str(user.pk),
        "started": started.isoformat(),
        "expires": expires.isoformat(),
        "reason": reason,
    }


@service
def impersonation_stop(*, actor, how: str = STOPPED, reason: str = "") -> None:
    """Record the end of a view: the operator stopped it, it expired, or it
    ended because the operator may no longer start it (demoted). `actor` is
    the impersonation's own actor, so the row names both people. The entry
    point forgets the view in the session."""
    if how not in (STOPPED, EXPIRED, ENDED):
        raise ValueError(f"unknown end of an impersonation {how!r}")
    audit.record(how, actor=actor, target=actor.acting_for, reason=reason)
