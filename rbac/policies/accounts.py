"""Named guards for acting on user accounts: one per action, called first
by the action's service (`user_ban` calls `check_can_ban`), so every entry
point reaches the same check."""

from __future__ import annotations

from audit import events
from rbac import credentials
from rbac.actor import as_actor
from rbac.policies.base import (
    _deny,
    _is_active_actor,
    _wanted,
    check_can_hand_out,
    check_escalation,
    check_fresh_proof,
    check_hierarchy,
    check_not_owner,
    check_not_self,
    check_own_or_user_action,
    check_permission,
    check_self_service,
    check_user_action,
    is_self,
    user_has,
)
from rbac.policies.standing import judges_standing

# --- named guards: one per action --------------------------------------------
# Each action's service calls its guard first; every entry point (page,
# fragment, API, batch, Django admin, task, command) reaches it through that
# service. Dry runs and templates call the same guard or its predicate.


def check_can_create_user(actor, *, roles=(), grants=()) -> None:
    action = events.USER_CREATED
    actor = as_actor(actor).globally()  # a new account in no organization is managed globally
    check_permission(actor, "users:create", action=action)
    check_can_hand_out(actor, roles=roles, grants=grants, action=action)
    check_escalation(actor, _wanted(roles, grants), action=action)


def check_can_update_profile(actor, user) -> None:
    """Name, phone and metadata. Your own with users:update (the account
    page edits your own without it); anyone else's also by hierarchy."""
    action = events.USER_UPDATED
    if is_self(actor, user):
        check_permission(actor, "users:update", action=action, target=user)
        return
    check_user_action(actor, user, "users:update", action=action, verb="edit", past="edited")


def check_can_change_email(actor, user, *, password: str | None = None) -> None:
    """Someone else's address needs users:update-email and the hierarchy;
    your own needs a fresh proof of the person (an account takeover step)."""
    check_own_or_user_action(
        actor,
        user,
        "users:update-email",
        action=events.USER_UPDATED,
        verb="change the email address of",
        past="given a new email address by others",
        password=password,
    )


def check_can_change_own_email(actor, *, password: str | None = None) -> None:
    check_self_service(actor, "users:update-email", action=events.EMAIL_CHANGED, password=password)


@judges_standing
def check_can_ban(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:ban",
        action=events.USER_BANNED,
        verb="ban",
        past="banned",
        batch_id=batch_id,
    )


@judges_standing
def check_can_unban(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:ban",
        action=events.USER_UNBANNED,
        verb="unban",
        past="unbanned",
        batch_id=batch_id,
    )


@judges_standing
def check_can_disable(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:disable",
        action=events.USER_DISABLED,
        verb="disable",
        past="disabled",
        batch_id=batch_id,
    )


@judges_standing
def check_can_enable(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:disable",
        action=events.USER_ENABLED,
        verb="enable",
        past="enabled",
        batch_id=batch_id,
    )


@judges_standing
def check_can_unlock(actor, user, *, batch_id=None) -> None:
    """Lifting a lock-out lets sign-in attempts at the account start again:
    whoever may disable and enable it, over the hierarchy."""
    check_user_action(
        actor,
        user,
        "users:disable",
        action=events.USER_UNLOCKED,
        verb="unlock",
        past="unlocked",
        batch_id=batch_id,
    )


@judges_standing
def check_can_delete(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action=events.USER_DELETED,
        verb="delete",
        past="deleted",
        batch_id=batch_id,
    )


@judges_standing
def check_can_restore(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action=events.USER_RESTORED,
        verb="restore",
        past="restored",
        batch_id=batch_id,
    )


@judges_standing
def check_can_erase(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:delete",
        action=events.USER_ERASED,
        verb="delete",
        past="deleted",
        batch_id=batch_id,
    )


@judges_standing
def check_can_force_password_change(actor, user, *, batch_id=None) -> None:
    check_user_action(
        actor,
        user,
        "users:reset-password",
        action=events.USER_PASSWORD_CHANGE_FORCED,
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


def check_can_send_reset_link(actor, user, *, batch_id=None) -> None:
    """A one-time password reset link, emailed or shown to the actor."""
    check_can_reset_password(actor, user, action=events.PASSWORD_RESET_LINK_CREATED)


def check_can_send_magic_link(actor, user, *, batch_id=None) -> None:
    """A sign-in (or recovery) link emailed to the user and shown to the actor."""
    check_can_reset_password(actor, user, action=events.MAGIC_LINK_SENT)


@judges_standing
def check_can_resend_verification(actor, user, *, batch_id=None) -> None:
    """Another link proving the user owns their address: the address is
    what `users:update-email` looks after."""
    check_user_action(
        actor,
        user,
        "users:update-email",
        action=events.EMAIL_VERIFICATION_SENT,
        verb="send a verification link to",
        past="sent verification links by others",
        batch_id=batch_id,
    )


@judges_standing
def check_can_mark_verified(actor, user, *, batch_id=None) -> None:
    """Vouching for a user's address without their proof: as much power as
    changing it."""
    check_user_action(
        actor,
        user,
        "users:update-email",
        action=events.EMAIL_MARKED_VERIFIED,
        verb="verify the address of",
        past="given a verified address by others",
        batch_id=batch_id,
    )


def check_can_end_sessions(actor, user, *, action: str, password: str | None = None) -> None:
    """Another user's sessions: sessions:revoke and the hierarchy. Your own
    other sessions: a fresh proof (and, through a key, its scope)."""
    check_own_or_user_action(
        actor,
        user,
        "sessions:revoke",
        action=action,
        verb="end the sessions of",
        past="signed out by someone else",
        password=password,
    )


def check_can_remove_mfa(actor, user, *, password: str | None = None) -> None:
    check_own_or_user_action(
        actor,
        user,
        "mfa:reset",
        action=events.MFA_REMOVED,
        verb="remove a factor from",
        past="stripped of a factor by someone else",
        password=password,
    )


def check_can_regenerate_recovery_codes(actor, *, password: str | None = None) -> None:
    check_self_service(
        actor, "mfa:reset", action=events.MFA_RECOVERY_CODES_REGENERATED, password=password
    )


def check_can_enrol_mfa(actor, *, password: str | None = None) -> None:
    """Adding a first factor to your own account: a fresh proof. A stolen
    session that could add one would lock the real user out of their own
    account (sign-in would ask them for a code only the thief has)."""
    check_self_service(actor, "mfa:reset", action=events.MFA_ENROLLED, password=password)


def check_can_replace_mfa(actor, *, password: str | None = None) -> None:
    """Enrolling while a confirmed factor exists replaces it (and the
    recovery codes): a fresh proof, which for such an account means the
    password and a code."""
    check_self_service(actor, "mfa:reset", action=events.MFA_REPLACED, password=password)


def check_can_add_passkey(actor, *, password: str | None = None) -> None:
    """Adding a passkey to your own account (a first factor or one more):
    a fresh proof, as for an authenticator app. A stolen session that could
    add one would hold a factor of its own."""
    check_self_service(actor, "mfa:reset", action=events.MFA_PASSKEY_ADDED, password=password)


def check_can_scrub_audit(actor, user, *, target=None) -> None:
    """Erasing a deleted user's personal data from the audit log: users:delete
    and the hierarchy over the user as if they were still active (a hard-
    deleted user, gone from the table, is judged by the permission alone)."""
    action = events.AUDIT_USER_SCRUBBED
    check_permission(actor, "users:delete", action=action, target=target)
    if user is not None:
        check_not_self(actor, user, action=action, verb="scrub the audit trail of")
        check_not_owner(actor, user, action=action, verb="scrubbed from the audit log")
        check_hierarchy(actor, user, action=action)


def check_can_purge(actor, user) -> None:
    """Removing for good a user whose restore window ended, or deleting an
    account whose owner asked for it once the cooling-off is over: a rule
    carried out on schedule, so only the system (a beat task) or the
    operator's shell does it -- never a person through the dashboard, the
    API or a job (they delete, restore and erase through their own
    guards)."""
    kind = getattr(getattr(actor, "credential", None), "kind", None)
    if kind not in (credentials.SYSTEM, credentials.CONSOLE):
        raise _deny(
            "system_only",
            "Only the scheduled clean-up removes deleted users for good.",
            action=events.USER_PURGED,
            actor=actor,
            target=user,
        )
    if getattr(user, "is_owner", False):
        raise _deny(
            "owner_protected",
            "The owner is never removed by the scheduled clean-up.",
            action=events.USER_PURGED,
            actor=actor,
            target=user,
        )


# --- your own data and account (seed 002, "data privacy") ----------------------


def _check_own_account(actor, *, action: str) -> None:
    """Your own account, from the dashboard: an active person through a
    session of theirs (an API key, a job or the shell is no person asking)."""
    if not _is_active_actor(actor):
        raise _deny(
            "not_authenticated", "Only an active account can do this.", action=action, actor=actor
        )
    if getattr(getattr(actor, "credential", None), "kind", None) != credentials.SESSION:
        raise _deny(
            "dashboard_only",
            "This is done by the person themselves, on their account page.",
            action=action,
            actor=actor,
            target=actor,
        )


def check_can_export_own_data(actor) -> None:
    """ "Download my data": anyone signed in, for their own account only."""
    _check_own_account(actor, action=events.ACCOUNT_DATA_EXPORTED)


def check_can_request_own_deletion(actor) -> None:
    """ "Delete my account": the person, with a fresh proof; never the owner
    while they are the owner (ownership goes to someone else first)."""
    action = events.ACCOUNT_DELETION_REQUESTED
    _check_own_account(actor, action=action)
    if actor.is_owner:
        raise _deny(
            "owner_protected",
            "You own Handover: transfer the ownership to someone else before you delete "
            "your account.",
            action=action,
            actor=actor,
            target=actor,
        )
    check_fresh_proof(actor, action=action, target=actor)


def check_can_cancel_own_deletion(actor) -> None:
    """Cancelling your own deletion request: the person, signed in."""
    _check_own_account(actor, action=events.ACCOUNT_DELETION_CANCELLED)


def check_can_export_user(actor, user) -> None:
    """Exporting a person's data is an action on them: users:export, and for
    anyone but yourself owner protection and the strict hierarchy (a
    manager exports no admin's data, nobody the owner's). Which sections
    the export holds is `export_sections`."""
    action = events.USER_DATA_EXPORTED
    check_permission(actor, "users:export", action=action, target=user)
    if is_self(actor, user):
        return
    check_not_owner(actor, user, action=action, verb="the subject of someone else's data export")
    check_hierarchy(actor, user, action=action)


# The sections of a user's data export that need more than users:export.
EXPORT_SECTION_PERMISSIONS = {"sessions": "sessions:read", "audit_events": "audit:read"}


def export_sections(actor) -> dict[str, bool]:
    """For each guarded section of a data export, whether `actor` may have
    it: the sessions need sessions:read, the audit events audit:read."""
    return {
        section: user_has(actor, permission)
        for section, permission in EXPORT_SECTION_PERMISSIONS.items()
    }


def check_can_export_users(actor) -> None:
    check_permission(actor, "users:export", action=events.USERS_EXPORTED)
