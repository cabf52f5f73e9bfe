"""The building blocks of every guard: `PolicyDenied`, `allows` (the
question pages ask before offering an action), the predicates the checks
use, and the checks the named guards in `accounts` and `access` are made
of (permission, escalation, self, owner, strict hierarchy, fresh proof,
last manager).

`check_*` functions raise `PolicyDenied` with a code and a sentence people
can read. Anything unknown is denied (fail closed).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Q

from accounts.models import User, status_q
from core.compiled import Compiled
from core.services import PolicyDenied  # noqa: F401 (rbac.policies.PolicyDenied)
from rbac.actor import Actor, as_actor
from rbac.models import Role
from rbac.permissions import CATALOG, ROLE_MANAGER_PERMISSION
from rbac.selectors import user_effective_permissions


def permissions_of(actor) -> frozenset[str]:
    """The permissions an actor acts with: the person's own narrowed by the
    credential's scopes (`rbac.actor.Actor.permissions`)."""
    actor = as_actor(actor)
    return actor.permissions if actor is not None else frozenset()


def target_permissions(actor, user) -> frozenset[str]:
    """What `user` (the target of an action) holds, to compare with the
    actor's: computed in advance by the caller when it primed the actor
    (`actor.knowing(prime_permissions(users))`), else now."""
    actor = as_actor(actor)
    if actor is None:
        return user_effective_permissions(user)
    return actor.target_permissions(user)


def _missing(held, wanted) -> set[str]:
    return {p for p in wanted if p not in held or p not in CATALOG}


def missing_permissions(actor, wanted) -> set[str]:
    """Permissions in `wanted` that `actor` does not hold. Unknown strings
    are always missing: nobody holds a permission the catalog lacks."""
    return _missing(permissions_of(actor), wanted)


def _is_active_actor(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active


def _wanted(roles, grants) -> set[str]:
    """Everything roles (objects) and direct grants would give."""
    wanted = set(grants or ())
    for role in roles or ():
        wanted.update(role.permissions)
    return wanted


# --- predicates -----------------------------------------------------------


def user_has(actor, permission: str) -> bool:
    return _is_active_actor(actor) and permission in permissions_of(actor)


def user_can_manage_user(actor, user) -> bool:
    """Hierarchy (seed 001's admin protection): the owner manages everyone
    else; anyone else manages only users whose effective permissions are a
    *strict* subset of their own, so peers -- two admins -- cannot act on
    each other. The actor's permissions are those of the request (their
    own narrowed by the credential's scopes)."""
    if not _is_active_actor(actor) or user is None:
        return False
    if actor.pk == user.pk or user.is_owner:
        return False
    if actor.is_owner:
        return True
    return target_permissions(actor, user) < permissions_of(_over(actor, user))


def allows(guard, actor, *args, **kwargs) -> bool:
    """The one question pages and templates ask before offering an action:
    "may this actor do this?" -- answered by the action's own named guard
    (`allows(check_can_ban, actor, user)`), so a button shows exactly when
    the service would let it through. Nothing is recorded: only a refused
    attempt is an audit event. (A plain permission -- may they see this
    page or section? -- is `user_has`.)"""
    try:
        guard(actor, *args, **kwargs)
    except PolicyDenied:
        return False
    return True


def user_can_act_on_self(actor, permission: str) -> bool:
    """A sensitive change to one's own account through this request's
    credential: a session always (after re-authenticating); an API key only
    when scoped for `permission` (and the request carries the password)."""
    if not _is_active_actor(actor):
        return False
    return not as_actor(actor).credential.is_api_key or permission in permissions_of(actor)


# --- building blocks --------------------------------------------------------
# The named guards below are made of these; services call the named guards.


def _deny(code, message, *, action, actor, target=None, missing=(), batch_id=None):
    if isinstance(target, Actor):  # an action on one's own account
        target = target.user
    return PolicyDenied(
        code,
        message,
        action=action,
        actor=actor,
        target=target,
        missing=missing,
        batch_id=batch_id,
    )


def _over(actor, user):
    """`actor` with only the permissions that apply to `user`'s account
    (global grants and those held in every organization the user belongs
    to): what the hierarchy and the escalation compare with."""
    actor = as_actor(actor)
    if actor is None or user is None or isinstance(user, Actor):
        return actor
    return actor.over(user)


def check_permission(actor, permission: str, *, action: str, target=None, batch_id=None) -> None:
    if permission not in CATALOG:
        raise _deny(
            "unknown_permission",
            f"No rule allows this action (unknown permission {permission}).",
            action=action,
            actor=actor,
            target=target,
            batch_id=batch_id,
        )
    if not _is_active_actor(actor):
        raise _deny(
            "not_authenticated",
            "Only an active account can do this.",
            action=action,
            actor=actor,
            target=target,
            batch_id=batch_id,
        )
    if permission not in permissions_of(actor):
        raise _deny(
            "permission_denied",
            f"You need the permission {permission} to do this.",
            action=action,
            actor=actor,
            target=target,
            missing=[permission],
            batch_id=batch_id,
        )
    if target is not None and not isinstance(target, Actor):
        _check_scope(as_actor(actor), permission, action=action, target=target, batch_id=batch_id)


def _check_scope(actor, permission, *, action, target, batch_id) -> None:
    """The actor holds `permission` somewhere; does it apply to `target`?
    A user's account: globally, or in every organization they belong to;
    an organization: globally or in it."""
    if actor.may(permission, target):
        return
    user = target if isinstance(target, User) else getattr(target, "user", None)
    if isinstance(user, User):
        lacking = actor.lacking_organizations(permission, user)
        if lacking:
            where = ", ".join(lacking)
            message = (
                f"You hold {permission} only in some of this user's organizations; "
                f"you lack it in {where}. Removing them from your organization is "
                "done on the organization's page."
            )
        else:
            message = (
                f"This user belongs to no organization of yours; {permission} over "
                "them needs the permission globally."
            )
    else:
        message = f"You need the permission {permission} in {target} to do this."
    raise _deny(
        "organization_scope",
        message,
        action=action,
        actor=actor,
        target=target,
        missing=[permission],
        batch_id=batch_id,
    )


def check_escalation(actor, wanted, *, action: str, target=None, batch_id=None) -> None:
    """Nobody grants, assigns, invites with or scopes a key to a permission
    they do not hold themselves."""
    missing = missing_permissions(actor, wanted)
    if missing:
        raise _deny(
            "escalation",
            "You cannot grant permissions you do not hold: %s." % ", ".join(sorted(missing)),
            action=action,
            actor=actor,
            target=target,
            missing=missing,
            batch_id=batch_id,
        )


def check_can_hand_out(actor, *, roles=(), grants=(), action: str, target=None) -> None:
    """Handing out roles needs roles:assign and direct grants need
    permissions:grant, whatever the door: creating a user, inviting one.
    (What is handed out must also be held: `check_escalation`.)"""
    if roles:
        check_permission(actor, "roles:assign", action=action, target=target)
    if grants:
        check_permission(actor, "permissions:grant", action=action, target=target)


def is_self(actor, user) -> bool:
    """Whether `actor` is acting on their own account."""
    return actor is not None and user is not None and actor.pk == user.pk


def check_not_self(actor, user, *, action: str, verb: str, batch_id=None) -> None:
    if is_self(actor, user):
        raise _deny(
            "self_action",
            f"You cannot {verb} yourself.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )


def check_not_owner(actor, user, *, action: str, verb: str, batch_id=None) -> None:
    if user is not None and user.is_owner:
        raise _deny(
            "owner_protected",
            f"The owner cannot be {verb}.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )


def check_hierarchy(actor, user, *, action: str, batch_id=None) -> None:
    """Strict hierarchy: see `user_can_manage_user`."""
    if actor is not None and actor.is_owner:
        return
    held, theirs = permissions_of(_over(actor, user)), target_permissions(actor, user)
    extra = theirs - held
    if extra:
        raise _deny(
            "hierarchy",
            "You can only manage users whose permissions you also hold; "
            "this user also has: %s." % ", ".join(sorted(extra)),
            action=action,
            actor=actor,
            target=user,
            missing=extra,
            batch_id=batch_id,
        )
    if theirs == held:
        raise _deny(
            "peer",
            "This user holds the same permissions as you; only someone with more access "
            "(or the owner) can manage them.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )


def check_user_action(
    actor, user, permission: str, *, action: str, verb: str, past: str, batch_id=None
) -> None:
    """Acting on another user: the permission, not yourself, not the owner,
    strict hierarchy. `verb`/`past` word the refusal ("ban"/"banned")."""
    check_permission(actor, permission, action=action, target=user, batch_id=batch_id)
    check_not_self(actor, user, action=action, verb=verb, batch_id=batch_id)
    check_not_owner(actor, user, action=action, verb=past, batch_id=batch_id)
    check_hierarchy(actor, user, action=action, batch_id=batch_id)


def check_fresh_proof(actor, *, action: str, target=None, password: str | None = None) -> None:
    """A sensitive change to one's own account needs the person, not only a
    credential: in the dashboard, a re-authentication within the window;
    through an API key, the current password in the request."""
    actor = as_actor(actor)
    credential = actor.credential
    if credential.is_api_key:
        if password and actor.user.check_password(password):
            return
        raise _deny(
            "reauthentication_required",
            "An API key alone cannot change its own user's account: send the user's "
            "current password as current_password.",
            action=action,
            actor=actor,
            target=target,
        )
    if password is not None:
        if actor.user.check_password(password):
            return
        raise _deny(
            "reauthentication_failed",
            "Your password is incorrect.",
            action=action,
            actor=actor,
            target=target,
        )
    if not credential.has_recent_proof():
        raise _deny(
            "reauthentication_required",
            "Confirm your password again to do this (your last confirmation has expired).",
            action=action,
            actor=actor,
            target=target,
        )


def check_self_service(actor, permission: str, *, action: str, password: str | None = None) -> None:
    """The guard for a sensitive change to your own account (own email,
    password, MFA, recovery codes, other credentials): an active actor, a
    credential scoped for `permission` (a session has every scope), and a
    fresh proof of the person."""
    if not _is_active_actor(actor):
        check_permission(actor, permission, action=action, target=actor)
    if not user_can_act_on_self(actor, permission):
        raise _deny(
            "permission_denied",
            f"This API key is not scoped for {permission}, which this change to its own "
            "user's account needs.",
            action=action,
            actor=actor,
            target=actor,
            missing=[permission],
        )
    check_fresh_proof(actor, action=action, target=actor, password=password)


def check_own_or_user_action(
    actor, user, permission: str, *, action: str, verb: str, past: str, password: str | None = None
) -> None:
    """An action people take on their own account as a sensitive change
    (`check_self_service`: scope and a fresh proof) and on someone else's
    as an action on another user (`check_user_action`: the permission,
    the owner, the hierarchy)."""
    if is_self(actor, user):
        check_self_service(actor, permission, action=action, password=password)
        return
    check_user_action(actor, user, permission, action=action, verb=verb, past=past)


def role_managers_remaining(*, exclude_user_ids=(), role_overrides=None) -> int:
    """How many active users besides the owner could still assign roles,
    leaving out `exclude_user_ids` and treating roles in `role_overrides`
    ({role_id: new_permissions}) as already changed."""

    role_overrides = role_overrides or {}
    manager_role_ids = []
    for role_id, perms in Role.objects.values_list("id", "permissions"):
        perms = role_overrides.get(role_id, perms)
        if ROLE_MANAGER_PERMISSION in perms:
            manager_role_ids.append(role_id)
    active = User.objects.filter(status_q("active") | status_q("unverified")).filter(is_owner=False)
    if exclude_user_ids:
        active = active.exclude(pk__in=list(exclude_user_ids))
    via_role = active.filter(userrole__role_id__in=manager_role_ids).values("pk")
    via_grant = active.filter(direct_permissions__icontains=f'"{ROLE_MANAGER_PERMISSION}"').values(
        "pk"
    )
    # Two IN subqueries rather than UNION: SQLite refuses the model's default
    # ORDER BY inside a compound statement.
    return User.objects.filter(Q(pk__in=via_role) | Q(pk__in=via_grant)).count()


# Inside `owner_status_fixed()`: answers about standing that the block's
# actions cannot change, each asked once ({name: answer}).
_fixed: ContextVar[dict | None] = ContextVar("standing_fixed", default=None)


def fixed_answer(name: str, ask):
    """`ask()`, asked once per `owner_status_fixed()` block (every time
    outside one)."""
    memo = _fixed.get()
    if memo is None:
        return ask()
    if name not in memo:
        memo[name] = ask()
    return memo[name]


def standing_fixed() -> bool:
    """Whether the caller is inside an `owner_status_fixed()` block."""
    return _fixed.get() is not None


# Asked by every account-wide change's last-manager guard: its SQL is the
# ORM's, written once (core.compiled). One row at most (the single-owner
# constraint), so no order to ask for.
_the_owner = Compiled(lambda: User.objects.filter(is_owner=True))


def _owner_can_act() -> bool:
    owner = next(iter(_the_owner()), None)
    return owner is not None and owner.is_active


def owner_is_active() -> bool:
    return fixed_answer("owner_active", _owner_can_act)


@contextmanager
def owner_status_fixed():
    """Ask the database once whether the owner can act (and who manages an
    organization's members: `managers.check_orgs_keep_managers`), for a
    block of actions that cannot change it (a batch never acts on the
    owner, nor changes roles and memberships while it bans or deletes)."""
    token = _fixed.set({})
    try:
        yield
    finally:
        _fixed.reset(token)
