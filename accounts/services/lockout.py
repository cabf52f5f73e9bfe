"""Lifting a sign-in lock-out: the one service every entry point (the user
page, the API, a batch) calls."""

from __future__ import annotations

from axes.models import AccessAttempt

from accounts.models import User
from accounts.selectors import user_lock
from accounts.services.common import lock_user
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


@service
def user_unlock(*, actor, user, reason: str = "", batch_id=None) -> User:
    """End `user`'s lock-out (account-wide, or from the addresses it shuts
    out) by forgetting the failed attempts that made it. Returns early when
    the user is not locked; otherwise records what lock ended."""
    user = lock_user(user)
    policies.check_can_unlock(actor, user, batch_id=batch_id)
    lock = user_lock(user)
    if lock is None:
        return user
    AccessAttempt.objects.filter(username=user.email).delete()
    changes = {"locked_until": [lock.until.isoformat(), None]}
    if lock.per_address:
        changes["locked_addresses"] = [list(lock.addresses), []]
    audit.record(
        events.USER_UNLOCKED,
        actor=actor,
        target=user,
        reason=reason,
        changes=changes,
        batch_id=batch_id,
    )
    return user
