"""Named guards for handing out and taking back access: API keys,
invitations, roles, direct grants and ownership."""

from __future__ import annotations

from accounts.models import User
from audit import events
from audit.models import Target
from rbac.actor import as_actor
from rbac.models import Role, UserRole
from rbac.permissions import (
    CATALOG,
    DASHBOARD_ONLY_PERMISSIONS,
    FORMER_OWNER_ROLE,
    OWNER_ROLE,
    ROLE_MANAGER_PERMISSION,
    SCOPABLE,
)
from rbac.policies.base import (
    PolicyDenied,
    _deny,
    _is_active_actor,
    _wanted,
    allows,
    check_can_hand_out,
    check_escalation,
    check_fresh_proof,
    check_hierarchy,
    check_not_owner,
    check_permission,
    check_self_service,
    permissions_of,
    target_permissions,
    user_can_manage_user,
)
from rbac.policies.grants import acting_through
from rbac.policies.managers import MANAGER, check_last_manager, check_orgs_keep_managers
from rbac.policies.orgs import check_hierarchy_in
from rbac.selectors import prime_permissions


def check_can_create_api_key(actor, owner, scopes, *, password: str | None = None) -> None:
    """Scopes within the actor's own permissions; a key for someone else
    follows the hierarchy and never goes to the owner. Through an API key,
    also a fresh proof of the person (the current password), as the
    dashboard asks for one: a leaked key alone cannot copy itself."""
    action = events.API_KEY_CREATED
    check_permission(actor, "api-keys:create", action=action)
    if as_actor(actor).credential.is_api_key:
        check_fresh_proof(actor, action=action, target=owner, password=password)
    if owner is not None and owner.pk != actor.pk:
        check_not_owner(actor, owner, action=action, verb="given keys by others")
        check_hierarchy(actor, owner, action=action)
    check_escalation(actor, scopes, action=action, target=owner)


def check_can_revoke_api_key(actor, key, *, password: str | None = None) -> None:
    """Someone else's key: api-keys:delete, owner protection and the
    hierarchy over its user. Your own: the key making the request may
    always revoke itself; any other credential of yours needs a fresh
    proof (and, through a key, its scope)."""
    action = events.API_KEY_REVOKED
    if actor is not None and key.user_id == actor.pk:
        if as_actor(actor).credential.key_id == key.pk:
            return
        check_self_service(actor, "api-keys:delete", action=action, password=password)
        return
    check_permission(actor, "api-keys:delete", action=action, target=key)
    check_not_owner(actor, key.user, action=action, verb="deprived of keys by others")
    check_hierarchy(actor, key.user, action=action)


def check_can_invite(
    actor, *, email: str, roles=(), grants=(), account=None, action=None, organization=None
) -> None:
    """Invitations create or complete an account, so inviting is granting:
    roles need roles:assign and direct grants permissions:grant, as when
    creating a user; escalation over everything the account will hold once
    it accepts (the invitation's roles and grants, and whatever a pending
    `account` already holds) and, for an existing pending account, the
    hierarchy over it. An invitation into an organization is judged with
    the permissions held there (its roles confer only their scopable part
    there); one into no organization makes an account managed globally, so
    global grants only."""
    action = action or events.INVITATION_CREATED
    actor = as_actor(actor).within(organization)
    if organization is not None:
        roles = [_Scoped(role) for role in roles]
    target = account if account is not None else _invitation_target(email)
    # Into an organization, the grants that apply are those held there (the
    # pending account joins it only on acceptance).
    where = organization if organization is not None else target
    check_permission(actor, "invitations:create", action=action, target=where)
    check_can_hand_out(actor, roles=roles, grants=grants, action=action, target=where)
    wanted = _wanted(roles, grants)
    if account is not None:
        check_not_owner(actor, account, action=action, verb="invited again")
        wanted |= target_permissions(actor, account)
        check_escalation(actor, wanted, action=action, target=account)
        if organization is not None:
            check_hierarchy_in(actor, organization, account, action=action)
        else:
            check_hierarchy(actor, account, action=action)
        return
    check_escalation(actor, wanted, action=action, target=target)


def check_can_invite_list(actor, *, roles=(), grants=()) -> None:
    """A list of invitations (pasted or a CSV file) handing out `roles`
    (slugs or objects, from any row) and `grants` (the template's): the
    permissions `check_can_invite` asks of each, asked once for the list so
    a refusal answers the whole request. Escalation and existing accounts
    stay per row."""
    action = events.INVITATION_CREATED
    check_permission(actor, "invitations:create", action=action)
    check_can_hand_out(actor, roles=roles, grants=grants, action=action)


def check_can_revoke_invitation(actor, invitation) -> None:
    check_permission(
        actor,
        "invitations:revoke",
        action=events.INVITATION_REVOKED,
        target=_invitation_target(invitation.email, invitation.pk),
    )


def invitation_still_grantable(invitation, account) -> bool:
    """At acceptance: would the inviter's own guard (`check_can_invite`),
    asked again with the inviter as they are now, still let this invitation
    through? Roles given to a pending account after it was invited, an
    inviter disabled, banned or demoted since (roles:assign, the permissions
    it hands out) make the link worthless."""
    inviter = User.objects.filter(pk=invitation.invited_by_id).first()
    if inviter is None or not inviter.is_active:
        return False
    return allows(
        check_can_invite,
        acting_through(inviter, None),
        email=invitation.email,
        roles=list(invitation.roles.all()),
        grants=invitation.permissions,
        account=account,
        organization=invitation.organization,
    )


def check_can_join(actor, invitation, *, password: str | None = None) -> None:
    """Accepting an invitation into an organization for an existing account
    (`invitation_join`): only that account, signed in, with a fresh proof
    of the person -- joining hands the organization's administrators
    account-wide actions over it, so a borrowed session must not say yes."""
    action = "accounts.invitation.accepted"
    actor = as_actor(actor)
    target = _invitation_target(invitation.email, invitation.pk)
    if not actor.is_active or actor.pk != invitation.user_id:
        raise _deny(
            "not_invitee",
            f"This invitation is for {invitation.email}; sign in as that account to accept it.",
            action=action,
            actor=actor,
            target=target,
        )
    check_fresh_proof(actor, action=action, target=target, password=password)


def check_can_create_role(actor, permissions) -> None:
    action = events.ROLE_CREATED
    check_permission(actor, "roles:create", action=action)
    check_escalation(actor, permissions, action=action)


def _members_out_of_reach(actor, members) -> list:
    if actor is not None and actor.is_owner:
        return []
    actor = as_actor(actor).knowing(prime_permissions(members))
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
    action = events.ROLE_UPDATED
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
    overrides = {role.pk: list(new_permissions)}
    check_orgs_keep_managers(actor, action=action, target=role, role_overrides=overrides)
    if ROLE_MANAGER_PERMISSION in role.permissions and ROLE_MANAGER_PERMISSION not in set(
        new_permissions
    ):
        check_last_manager(actor, action=action, target=role, role_overrides=overrides)


def check_can_delete_role(actor, role, *, members=()) -> None:
    action = events.ROLE_DELETED
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
    check_orgs_keep_managers(actor, action=action, target=role, role_overrides={role.pk: []})
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
        _check_access_change(as_actor(actor).globally(), user, permission, action="", what=what)
    except PolicyDenied as exc:
        return exc.message
    return ""


def check_can_give_role(actor, role, *, user=None, batch_id=None) -> None:
    """What giving `role` asks of the actor, whoever receives it:
    roles:assign, never the owner role, no permission the actor lacks.
    Asked first by `check_can_assign_role`, and once for a whole batch
    (`batch_run`), so a role the actor cannot give is refused with the same
    code through every entry point, before anything about the user."""
    action = events.USER_ROLE_ASSIGNED
    actor = as_actor(actor).globally()  # a global role: only global grants hand it out
    check_permission(actor, "roles:assign", action=action, target=user, batch_id=batch_id)
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


def check_can_assign_role(actor, user, role, *, batch_id=None) -> None:
    """The role first (`check_can_give_role`), then the user: not yourself,
    not the owner, strict hierarchy."""
    check_can_give_role(actor, role, user=user, batch_id=batch_id)
    _check_access_change(
        as_actor(actor).globally(),
        user,
        "roles:assign",
        action=events.USER_ROLE_ASSIGNED,
        what="roles",
        batch_id=batch_id,
    )


def check_can_remove_role(actor, user, role, *, batch_id=None) -> None:
    """A global role: roles:assign globally (a scoped administrator changes
    only roles held in their organization, `check_can_remove_org_role`)."""
    action = events.USER_ROLE_REMOVED
    _check_access_change(
        as_actor(actor).globally(),
        user,
        "roles:assign",
        action=action,
        what="roles",
        batch_id=batch_id,
    )
    if MANAGER in (role.permissions or ()) and not _keeps_manager_globally(user, without_role=role):
        check_orgs_keep_managers(actor, action=action, target=user, global_losers=[user.pk])


def check_can_change_grants(actor, user, *, grant=(), revoke=()) -> None:
    action = events.USER_PERMISSIONS_UPDATED
    actor = as_actor(actor).globally()  # direct grants are global
    _check_access_change(actor, user, "permissions:grant", action=action, what="permissions")
    check_escalation(actor, set(grant) | set(revoke), action=action, target=user)
    if (
        MANAGER in set(revoke)
        and MANAGER in (user.direct_permissions or ())
        and not _keeps_manager_globally(user, without_grant=True)
    ):
        check_orgs_keep_managers(actor, action=action, target=user, global_losers=[user.pk])


def _keeps_manager_globally(user, *, without_role=None, without_grant=False) -> bool:
    """Whether `user` still holds members:manage globally once `without_role`
    (held globally) or their direct grant of it is gone."""
    if not without_grant and MANAGER in (user.direct_permissions or ()):
        return True
    roles = UserRole.objects.filter(user=user, organization__isnull=True)
    if without_role is not None:
        roles = roles.exclude(role=without_role)
    return any(
        MANAGER in (perms or ()) for perms in roles.values_list("role__permissions", flat=True)
    )


def check_can_transfer_ownership(actor, target, *, password: str | None = None) -> None:
    """Only the owner, with a fresh proof: the password in the dashboard
    form, or through an API key that carries every permission *and* the
    password in the request. A narrower owner key is refused. Every
    organization keeps someone who can manage its members: the owner
    manages every organization they belong to, and after the transfer
    keeps only their other grants and the former owner's role
    (`FORMER_OWNER_ROLE`), while `target` gains ownership. The caller has
    locked `organizations_at_stake(global_losers=[the owner])`."""
    action = events.OWNERSHIP_TRANSFERRED
    if not _is_active_actor(actor) or not actor.is_owner:
        raise _deny(
            "owner_only",
            "Only the owner can transfer ownership.",
            action=action,
            actor=actor,
            target=target,
        )
    if as_actor(actor).credential.is_api_key:
        # Full access for a key: every permission a key can hold.
        missing = set(CATALOG) - DASHBOARD_ONLY_PERMISSIONS - permissions_of(actor)
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
    if not _keeps_manager_once_former_owner(as_actor(actor).user):
        check_orgs_keep_managers(
            actor,
            action=action,
            target=target,
            global_losers=[actor.pk],
            global_gainers=[target.pk],
        )


def _keeps_manager_once_former_owner(user) -> bool:
    """Whether the owner `user` still holds members:manage globally once
    ownership is handed over: their direct grants, the global roles they
    hold besides the owner role, and the former owner's role."""
    if MANAGER in (user.direct_permissions or ()):
        return True
    kept = UserRole.objects.filter(user=user, organization__isnull=True).exclude(
        role__slug=OWNER_ROLE
    )
    held = [*kept.values_list("role__permissions", flat=True)]
    held += Role.objects.filter(slug=FORMER_OWNER_ROLE).values_list("permissions", flat=True)
    return any(MANAGER in (perms or ()) for perms in held)


class _Scoped:
    """A role as held in an organization: its scopable permissions only."""

    def __init__(self, role):
        self.permissions = set(role.permissions) & SCOPABLE


def _invitation_target(email: str, pk="") -> Target:
    """The audit target of an invitation that may not exist yet."""
    return Target("invitation", str(pk), email)
