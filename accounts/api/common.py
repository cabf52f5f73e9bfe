"""What the accounts API routers share: who is acting, the permission check
for reads, how a user is represented and loaded."""

from __future__ import annotations

from accounts import selectors
from accounts.models import User
from rbac import policies
from rbac.selectors import prime_permissions, role_holdings, user_effective_permissions


def actor_of(request):
    return request.auth


def require(request, permission: str, *, action: str, target=None) -> None:
    policies.check_permission(actor_of(request), permission, action=action, target=target)


def reauth_password(payload) -> str | None:
    """The current password a payload brings for re-authentication, if any."""
    return payload.current_password if payload is not None else None


def prime_holdings(users) -> list:
    """Give each user its global roles and organizations in two queries
    for the whole list (`user_out` reads them)."""
    holdings = role_holdings([u.pk for u in users])
    for user in users:
        user._holdings = holdings[user.pk]
    return users


def users_out(users) -> list[dict]:
    """`user_out` of many users with five queries whatever their number
    (holdings, permissions, sign-in locks)."""
    users = prime_holdings(list(users))
    permissions = prime_permissions(users)
    locks = selectors.user_locks(users, permissions)
    return [user_out(u, lock=locks.get(u.pk), permissions=permissions[u.pk]) for u in users]


_ASK = object()


def user_out(user: User, *, lock=_ASK, permissions=None) -> dict:
    """The API's `UserOut`. `lock` is the user's sign-in lock-out as
    `selectors.user_locks` gives it for a page of users (None: not
    locked); without it, it is read for this user (one query).
    `permissions`: theirs as `prime_permissions` gives them for many users;
    without them, read for this user."""
    if lock is _ASK:
        lock = selectors.user_lock(user)
    if permissions is None:
        permissions = user_effective_permissions(user)
    holdings = getattr(user, "_holdings", None)
    if holdings is None:
        holdings = role_holdings([user.pk])[user.pk]
    roles, organizations = holdings
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "status": user.status,
        "is_super": user.is_owner,
        "roles": roles,
        "organizations": [{"slug": o["slug"], "roles": o["roles"]} for o in organizations],
        "permissions": sorted(permissions),
        "created_at": user.created_at,
        "last_login": user.last_login,
        "email_verified": user.email_verified_at is not None,
        "banned_until": user.banned_until if user.status == "banned" else None,
        "ban_reason": user.ban_reason if user.status == "banned" else "",
        "locked_until": lock.until if lock is not None else None,
        "locked_addresses": list(lock.addresses) if lock is not None else [],
        "deletion_due_at": user.deletion_due_at,
    }


def get_user(request, user_id, *, include_deleted: bool = False) -> User:
    """The user with this id within the key's reach; a deleted one only
    where the operation says so (restore, erase). Otherwise `NotFound`,
    answered 404 `not_found`."""
    return selectors.user_get(user_id, actor=actor_of(request), include_deleted=include_deleted)
