"""One guard asked about many users (a page's rows), once per kind of row.

A guard made of `check_user_action` alone (the permission over the user's
account, not yourself, not the owner, the strict hierarchy) reads four
facts of its target: whether it is the actor, whether it is the owner, the
permissions the actor holds over its account (`Actor.permissions_over`:
the global grants and those held in every organization it belongs to)
and the permissions it holds itself (what the hierarchy compares). Two
users alike in these -- of the same standing -- get the same answer. Such
guards are marked `@judges_standing` (tests/rbac/test_standing.py reads
their source: one `check_user_action` call of the actor and the user),
and `allowed_users` asks each of them once per standing instead of once
per row: the users list asked ~100 guards a page, with two answers for
its usual rows (issue 29). Any other guard is asked about each user, as
`allows` would be.
"""

from __future__ import annotations

from rbac.actor import as_actor
from rbac.policies.base import allows, is_self


def judges_standing(guard):
    """Mark a guard made of `check_user_action` alone (see the module)."""
    guard.judges_standing = True
    return guard


def standing(actor, user) -> tuple:
    """What a `@judges_standing` guard reads of `user`, as a key."""
    return (
        is_self(actor, user),
        bool(user.is_owner),
        actor.permissions_over(user),
        actor.target_permissions(user),
    )


def allowed_users(guard, actor, users) -> set:
    """The pks of `users` that `allows(guard, actor, user)`: asked once per
    standing for a `@judges_standing` guard, else once per user. Prime the
    actor first (`actor.knowing(...)`) so reading the standing runs no
    query."""
    actor = as_actor(actor)
    if actor is None or not getattr(guard, "judges_standing", False):
        return {u.pk for u in users if allows(guard, actor, u)}
    answers: dict[tuple, bool] = {}
    allowed = set()
    for user in users:
        key = standing(actor, user)
        answer = answers.get(key)
        if answer is None:
            answer = answers[key] = allows(guard, actor, user)
        if answer:
            allowed.add(user.pk)
    return allowed
