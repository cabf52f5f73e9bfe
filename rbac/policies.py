"""Guards. Services call these before they change anything, so every entry
point -- page, fragment, API, Django admin, task, command -- obeys them.

Predicates (`user_can_*`) answer yes/no for templates that hide what the
user cannot do; `check_*` functions raise `PolicyDenied` with a code and a
sentence people can read. Anything unknown is denied (fail closed).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied

from rbac.credentials import credential_of
from rbac.permissions import CATALOG, ROLE_MANAGER_PERMISSION
from rbac.selectors import prime_permissions, user_effective_permissions


class PolicyDenied(PermissionDenied):
    """A guard refused. `code` is stable for API clients; `message` is for
    people; `missing` lists permissions the actor lacks, when that is why."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str = "",
        actor=None,
        target=None,
        missing=(),
        batch_id=None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.actor = actor
        self.target = target
        self.missing = sorted(missing)
        self.batch_id = batch_id
        self.recorded = False

    def __str__(self):
        return self.message

    def record(self) -> None:
        from audit import services as audit

        self.recorded = True
        audit.record(
            self.action or "rbac.denied",
            actor=self.actor,
            target=self.target,
            outcome="denied",
            reason=f"{self.code}: {self.message}",
            changes={"missing": self.missing} if self.missing else {},
            batch_id=self.batch_id,
        )


def permissions_of(user) -> frozenset[str]:
    return user_effective_permissions(user)


def missing_permissions(actor, wanted) -> set[str]:
    """Permissions in `wanted` that `actor` does not hold. Unknown strings
    are always missing: nobody holds a permission the catalog lacks."""
    held = permissions_of(actor) if actor is not None else frozenset()
    return {p for p in wanted if p not in held or p not in CATALOG}


def _is_active_actor(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active


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
    return permissions_of(user) < permissions_of(actor)


def user_can_act_on(actor, user, permission: str) -> bool:
    return user_has(actor, permission) and user_can_manage_user(actor, user)


def user_can_act_on_self(actor, permission: str) -> bool:
    """A sensitive change to one's own account through this request's
    credential: a session always (after re-authenticating); an API key only
    when scoped for `permission` (and the request carries the password)."""
    if not _is_active_actor(actor):
        return False
    return not credential_of(actor).is_api_key or permission in permissions_of(actor)


# --- building blocks --------------------------------------------------------
# The named guards below are made of these; services call the named guards.


def _deny(code, message, *, action, actor, target=None, missing=(), batch_id=None):
    return PolicyDenied(
        code,
        message,
        action=action,
        actor=actor,
        target=target,
        missing=missing,
        batch_id=batch_id,
    )


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
            "You must be signed in with an active account.",
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


def check_not_self(actor, user, *, action: str, verb: str, batch_id=None) -> None:
    if actor is not None and user is not None and actor.pk == user.pk:
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
    extra = permissions_of(user) - permissions_of(actor)
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
    if permissions_of(user) == permissions_of(actor):
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
    credential = credential_of(actor)
    if credential.is_api_key:
        if password and actor.check_password(password):
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
        if actor.check_password(password):
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


def role_managers_remaining(*, exclude_user_ids=(), role_overrides=None) -> int:
    """How many active users besides the owner could still assign roles,
    leaving out `exclude_user_ids` and treating roles in `role_overrides`
    ({role_id: new_permissions}) as already changed."""
    from accounts.models import User, status_q
    from rbac.models import Role

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
    from django.db.models import Q

    return User.objects.filter(Q(pk__in=via_role) | Q(pk__in=via_grant)).count()


# Inside `owner_status_fixed()`: the answer of `owner_is_active`, once asked.
_owner_active: ContextVar[list | None] = ContextVar("owner_active", default=None)


def owner_is_active() -> bool:
    from accounts.models import User

    memo = _owner_active.get()
    if memo:
        return memo[0]
    owner = User.objects.filter(is_owner=True).first()
    active = owner is not None and owner.is_active
    if memo is not None:
        memo.append(active)
    return active


@contextmanager
def owner_status_fixed():
    """Ask the database once whether the owner can act, for a block of
    actions that cannot change it (a batch never acts on the owner)."""
    token = _owner_active.set([])
    try:
        yield
    finally:
        _owner_active.reset(token)


def check_last_manager(
    actor, *, action: str, target=None, exclude_user_ids=(), role_overrides=None
) -> None:
    """No change may leave nobody besides the owner able to assign roles when
    the owner cannot act."""
    if owner_is_active():
        return
    if role_managers_remaining(exclude_user_ids=exclude_user_ids, role_overrides=role_overrides):
        return
    raise PolicyDenied(
        "last_manager",
        "This change would leave nobody able to assign roles.",
        action=action,
        actor=actor,
        target=target,
    )


# --- named guards: one per action --------------------------------------------
# Each action's service calls its guard first; every entry point (page,
# fragment, API, batch, Django admin, task, command) reaches it through that
# service. Dry runs and templates call the same guard or its predicate.


def check_can_create_user(actor, *, roles=(), grants=()) -> None:
    action = "accounts.user.created"
    check_permission(actor, "users:create", action=action)
    if roles:
        check_permission(actor, "roles:assign", action=action)
    if grants:
        check_permission(actor, "permissions:grant", action=action)
    check_escalation(actor, _wanted(roles, grants), action=action)


def check_can_update_profile(actor, user) -> None:
    """Name, phone and metadata. Your own with users:update (the account
    page edits your own without it); anyone else's also by hierarchy."""
    action = "accounts.user.updated"
    if actor is not None and user is not None and actor.pk == user.pk:
        check_permission(actor, "users:update", action=action, target=user)
        return
    check_user_action(actor, user, "users:update", action=action, verb="edit", past="edited")


def check_can_change_email(actor, user, *, password: str | None = None) -> None:
    """Someone else's address needs users:update-email and the hierarchy;
    your own needs a fresh proof of the person (an account takeover step)."""
    action = "accounts.user.updated"
    if actor is not None and user is not None and actor.pk == user.pk:
        check_self_service(actor, "users:update-email", action=action, password=password)
        return
    check_user_action(
        actor,
        user,
        "users:update-email",
        action=action,
        verb="change the email address of",
        past="given a new email address by others",
    )


def check_can_change_own_email(actor, *, password: str | None = None) -> None:
    check_self_service(
        actor, "users:update-email", action="accounts.email.changed", password=password
    )


def check_can_ban(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:ban",
        action="accounts.user.banned",
        verb="ban",
        past="banned",
        batch_id=batch_id,
    )


def check_can_unban(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:ban",
        action="accounts.user.unbanned",
        verb="unban",
        past="unbanned",
        batch_id=batch_id,
    )


def check_can_disable(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:disable",
        action="accounts.user.disabled",
        verb="disable",
        past="disabled",
        batch_id=batch_id,
    )


def check_can_enable(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:disable",
        action="accounts.user.enabled",
        verb="enable",
        past="enabled",
        batch_id=batch_id,
    )


def check_can_delete(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action="accounts.user.deleted",
        verb="delete",
        past="deleted",
        batch_id=batch_id,
    )


def check_can_restore(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action="accounts.user.restored",
        verb="restore",
        past="restored",
        batch_id=batch_id,
    )


def check_can_erase(actor, user) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action="accounts.user.erased",
        verb="delete",
        past="deleted",
    )


def check_can_force_password_change(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:reset-password",
        action="accounts.user.password_change_forced",
        verb="force a password change on",
        past="forced to change password",
        batch_id=batch_id,
    )


def check_can_reset_password(actor, user, *, action: str) -> None:
    """Setting a password directly, creating a reset token, sending a
    sign-in link: each is a way into the account."""
    check_user_action(
        actor,
        user,
        "users:reset-password",
        action=action,
        verb="reset the password of",
        past="reset",
    )


def check_can_end_sessions(actor, user, *, action: str, password: str | None = None) -> None:
    """Another user's sessions: sessions:revoke and the hierarchy. Your own
    other sessions: a fresh proof (and, through a key, its scope)."""
    if actor is not None and user is not None and actor.pk == user.pk:
        check_self_service(actor, "sessions:revoke", action=action, password=password)
        return
    check_user_action(
        actor,
        user,
        "sessions:revoke",
        action=action,
        verb="end the sessions of",
        past="signed out by someone else",
    )


def check_can_remove_mfa(actor, user, *, password: str | None = None) -> None:
    action = "accounts.mfa.removed"
    if actor is not None and user is not None and actor.pk == user.pk:
        check_self_service(actor, "mfa:reset", action=action, password=password)
        return
    check_user_action(
        actor,
        user,
        "mfa:reset",
        action=action,
        verb="remove a factor from",
        past="stripped of a factor by someone else",
    )


def check_can_regenerate_recovery_codes(actor, *, password: str | None = None) -> None:
    check_self_service(
        actor, "mfa:reset", action="accounts.mfa.recovery_codes_regenerated", password=password
    )


def check_can_create_api_key(actor, owner, scopes) -> None:
    """Scopes within the actor's own permissions; a key for someone else
    follows the hierarchy and never goes to the owner."""
    action = "accounts.api_key.created"
    check_permission(actor, "api-keys:create", action=action)
    if owner is not None and owner.pk != actor.pk:
        check_not_owner(actor, owner, action=action, verb="given keys by others")
        check_hierarchy(actor, owner, action=action)
    check_escalation(actor, scopes, action=action, target=owner)


def check_can_revoke_api_key(actor, key, *, password: str | None = None) -> None:
    """Someone else's key: api-keys:delete, owner protection and the
    hierarchy over its user. Your own: the key making the request may
    always revoke itself; any other credential of yours needs a fresh
    proof (and, through a key, its scope)."""
    action = "accounts.api_key.revoked"
    if actor is not None and key.user_id == actor.pk:
        if credential_of(actor).key_id == key.pk:
            return
        check_self_service(actor, "api-keys:delete", action=action, password=password)
        return
    check_permission(actor, "api-keys:delete", action=action, target=key)
    check_not_owner(actor, key.user, action=action, verb="deprived of keys by others")
    check_hierarchy(actor, key.user, action=action)


def check_can_invite(actor, *, email: str, roles=(), grants=(), account=None, action=None) -> None:
    """Invitations create or complete an account, so inviting is granting:
    escalation over everything the account will hold once it accepts (the
    invitation's roles and grants, and whatever a pending `account` already
    holds) and, for an existing pending account, the hierarchy over it."""
    action = action or "accounts.invitation.created"
    target = account if account is not None else _invitation_target(email)
    check_permission(actor, "invitations:create", action=action, target=target)
    wanted = _wanted(roles, grants)
    if account is not None:
        check_not_owner(actor, account, action=action, verb="invited again")
        wanted |= permissions_of(account)
        check_escalation(actor, wanted, action=action, target=account)
        if not actor.is_owner and not permissions_of(account) < permissions_of(actor):
            check_hierarchy(actor, account, action=action)
        return
    check_escalation(actor, wanted, action=action, target=target)


def check_can_revoke_invitation(actor, invitation) -> None:
    check_permission(
        actor,
        "invitations:revoke",
        action="accounts.invitation.revoked",
        target=_invitation_target(invitation.email, invitation.pk),
    )


def invitation_still_grantable(invitation, account) -> bool:
    """At acceptance: could the inviter, as they are now, still grant all
    the account will hold? Roles given to a pending account after it was
    invited, or an inviter demoted since, make the link worthless."""
    inviter = invitation.invited_by
    if inviter is None or not inviter.is_active:
        return False
    wanted = _wanted(invitation.roles.all(), invitation.permissions) | permissions_of(account)
    return not missing_permissions(inviter, wanted)


def check_can_create_role(actor, permissions) -> None:
    action = "rbac.role.created"
    check_permission(actor, "roles:create", action=action)
    check_escalation(actor, permissions, action=action)


def _members_out_of_reach(actor, members) -> list:
    if actor is not None and actor.is_owner:
        return []
    prime_permissions(members)
    return [m for m in members if not user_can_manage_user(actor, m)]


def _check_role_members(actor, role, members, *, action: str, verb: str) -> None:
    """Changing a role's permissions acts on each of its members."""
    out_of_reach = _members_out_of_reach(actor, members)
    if out_of_reach:
        count = len(out_of_reach)
        raise _deny(
            "hierarchy",
            f"You cannot {verb} this role: {count} of its members "
            f"{'is a user' if count == 1 else 'are users'} you cannot manage "
            "(yourself, the owner, or users with as much access as you).",
            action=action,
            actor=actor,
            target=role,
        )


def check_can_edit_role(actor, role, *, new_permissions=None, members=()) -> None:
    """roles:update; the owner role is fixed; escalation over every
    permission added or removed; a change of permissions acts on every
    member (hierarchy); last-manager."""
    action = "rbac.role.updated"
    check_permission(actor, "roles:update", action=action, target=role)
    if role.slug == "owner":
        raise _deny(
            "owner_role",
            "The owner role always holds every permission and cannot be changed.",
            action=action,
            actor=actor,
            target=role,
        )
    if new_permissions is None or set(new_permissions) == set(role.permissions):
        return
    check_escalation(
        actor, set(new_permissions) ^ set(role.permissions), action=action, target=role
    )
    _check_role_members(actor, role, members, action=action, verb="change the permissions of")
    if ROLE_MANAGER_PERMISSION in role.permissions and ROLE_MANAGER_PERMISSION not in set(
        new_permissions
    ):
        check_last_manager(
            actor, action=action, target=role, role_overrides={role.pk: list(new_permissions)}
        )


def check_can_delete_role(actor, role, *, members=()) -> None:
    action = "rbac.role.deleted"
    check_permission(actor, "roles:delete", action=action, target=role)
    if role.is_builtin:
        raise _deny(
            "builtin_role",
            f"{role.name} is a built-in role and cannot be deleted.",
            action=action,
            actor=actor,
            target=role,
        )
    check_escalation(actor, role.permissions, action=action, target=role)
    _check_role_members(actor, role, members, action=action, verb="delete")
    if ROLE_MANAGER_PERMISSION in role.permissions:
        check_last_manager(actor, action=action, target=role, role_overrides={role.pk: []})


def _check_access_change(actor, user, permission: str, *, action: str, what: str, batch_id=None):
    check_permission(actor, permission, action=action, target=user, batch_id=batch_id)
    if actor.pk == user.pk:
        raise _deny(
            "self_action",
            f"You cannot change your own {what}.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )
    if user.is_owner:
        raise _deny(
            "owner_protected",
            f"The owner's {what} cannot be changed; ownership can only be transferred.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )
    check_hierarchy(actor, user, action=action, batch_id=batch_id)


def access_change_denial(actor, user, permission: str, *, what: str) -> str:
    """Why `actor` may not change `user`'s roles (permission roles:assign,
    what "roles") or grants (permissions:grant, "permissions"), in the
    guard's words; "" when they may. For pages that explain before acting."""
    try:
        _check_access_change(actor, user, permission, action="", what=what)
    except PolicyDenied as exc:
        return exc.message
    return ""


def check_can_assign_role(actor, user, role, *, batch_id=None) -> None:
    action = "rbac.user_role.assigned"
    _check_access_change(
        actor, user, "roles:assign", action=action, what="roles", batch_id=batch_id
    )
    if role.slug == "owner":
        raise _deny(
            "owner_role",
            "The owner role cannot be assigned; the owner can transfer ownership instead.",
            action=action,
            actor=actor,
            target=user,
            batch_id=batch_id,
        )
    check_escalation(actor, role.permissions, action=action, target=user, batch_id=batch_id)


def check_can_remove_role(actor, user, role, *, batch_id=None) -> None:
    _check_access_change(
        actor,
        user,
        "roles:assign",
        action="rbac.user_role.removed",
        what="roles",
        batch_id=batch_id,
    )


def check_can_change_grants(actor, user, *, grant=(), revoke=()) -> None:
    action = "rbac.user.permissions_updated"
    _check_access_change(actor, user, "permissions:grant", action=action, what="permissions")
    check_escalation(actor, set(grant) | set(revoke), action=action, target=user)


def check_can_transfer_ownership(actor, target, *, password: str | None = None) -> None:
    """Only the owner, with a fresh proof: the password in the dashboard
    form, or through an API key that carries every permission *and* the
    password in the request. A narrower owner key is refused."""
    action = "rbac.ownership.transferred"
    if not _is_active_actor(actor) or not actor.is_owner:
        raise _deny(
            "owner_only",
            "Only the owner can transfer ownership.",
            action=action,
            actor=actor,
            target=target,
        )
    if credential_of(actor).is_api_key:
        missing = set(CATALOG) - permissions_of(actor)
        if missing:
            raise _deny(
                "permission_denied",
                "Only a full-access API key can transfer ownership; this one lacks: %s."
                % ", ".join(sorted(missing)),
                action=action,
                actor=actor,
                target=target,
                missing=missing,
            )
    check_fresh_proof(actor, action=action, target=target, password=password)


def check_can_scrub_audit(actor, user, *, target=None) -> None:
    """Erasing a deleted user's personal data from the audit log: users:delete
    and the hierarchy over the user as if they were still active (a hard-
    deleted user, gone from the table, is judged by the permission alone)."""
    action = "audit.user.scrubbed"
    check_permission(actor, "users:delete", action=action, target=target)
    if user is not None:
        check_not_self(actor, user, action=action, verb="scrub the audit trail of")
        check_not_owner(actor, user, action=action, verb="scrubbed from the audit log")
        check_hierarchy(actor, user, action=action)


def check_can_export_user(actor, user) -> None:
    check_permission(actor, "users:export", action="accounts.user.data_exported", target=user)


def check_can_export_users(actor) -> None:
    check_permission(actor, "users:export", action="accounts.users.exported")


def _wanted(roles, grants) -> set[str]:
    wanted = set(grants or ())
    for role in roles or ():
        wanted.update(role.permissions)
    return wanted


def _invitation_target(email: str, pk="") -> object:
    """An audit target for an invitation that may not exist yet, without
    importing the audit app (it imports this module)."""
    from audit.services import Target  # audit -> handover.services -> policies

    return Target("invitation", str(pk), email)
