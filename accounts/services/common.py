from __future__ import annotations

from accounts.models import User
from core.services import NotFound


def lock_user(user_or_id) -> User:
    """Re-read a user with a row lock for the rest of the transaction."""
    pk = getattr(user_or_id, "pk", user_or_id)
    try:
        return User.objects.select_for_update().get(pk=pk)
    except (User.DoesNotExist, ValueError, TypeError):
        raise NotFound("This user does not exist (it may have been deleted).") from None


def diff(before: dict, after: dict) -> dict:
    """`{field: [old, new]}` for the fields that changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
