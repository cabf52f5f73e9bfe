"""Every action on a user, declared once: `USER_ACTIONS`.

A `UserAction` holds the facts of one action -- its service, the named
guard the service asks first, the permission a batch checks up front, the
event type it records, the state rule (`why_not`: "Already disabled."),
its parameters, and its words. The doors read it and restate nothing:

- the user page makes one confirm view per action (`accounts.views.
  user_actions`) with a form built from `params` (`accounts.forms.
  ActionForm`);
- the API makes one route per action with a schema built from `params`
  (`accounts.api.user_actions`), and the batch schema from all of them;
- both batches run `batch_run` over the declaration (`clean`, `load`,
  `why_not` on the locked row, `guard`, `service`);
- Django admin offers each batchable action, with an intermediate form when
  it has parameters (`accounts.admin`).

A new action is one entry here (and its service, guard and event type).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.services import lockout, passwords, verification
from accounts.services import users as user_services
from accounts.services.actions.declaration import (  # noqa: F401 (the package's names)
    BAN_END,
    BAN_UNTIL,
    CHOICE,
    CONFIRM_EMAIL,
    DELETED,
    FLAG,
    REASON,
    ROLE,
    ROLE_PARAM,
    TEXT,
    ApiDoor,
    Param,
    UserAction,
    _locks,
    _loses_role,
    _not_deleted,
    _role_holders,
    _stops_acting,
    _when,
)
from audit import events
from rbac import policies
from rbac.services import user_role_assign, user_role_remove

RESTORE_DAYS = user_services.RESTORE_WINDOW.days
MAGIC_TYPES = (
    ("recovery", "Recovery: choose a new password"),
    ("signup", "Sign-in: confirm email and sign in"),
    ("invite", "Invite: join (sends the invitation again for a pending account)"),
)

USER_ACTIONS: dict[str, UserAction] = {
    a.name: a
    for a in [
        UserAction(
            "ban",
            "Ban",
            "Ban user",
            "users:ban",
            events.USER_BANNED,
            user_services.user_ban,
            policies.check_can_ban,
            # Banning a banned user changes the ban (its end and reason).
            state=_not_deleted,
            params=(BAN_UNTIL, REASON),
            description="A banned user cannot sign in. Their sessions end now and "
            "outstanding links stop working.",
            done="{email} is banned.",
            at_stake=_stops_acting,
        ),
        UserAction(
            "unban",
            "Unban",
            "Unban user",
            "users:ban",
            events.USER_UNBANNED,
            user_services.user_unban,
            policies.check_can_unban,
            state=_when(lambda u, f: u.banned_until, "Not banned."),
            params=(REASON,),
            description="The user can sign in again.",
            done="{email} is no longer banned.",
            danger=False,
        ),
        UserAction(
            "unlock",
            "Unlock",
            "Unlock user",
            "users:disable",
            events.USER_UNLOCKED,
            lockout.user_unlock,
            policies.check_can_unlock,
            state=_when(lambda u, f: u.pk in f["locked"], "Not locked."),
            facts=_locks,
            params=(REASON,),
            description="Too many failed sign-ins locked this account. Unlocking forgets "
            "them, so the user can sign in again now; the failures stay in the audit log.",
            done="{email} is unlocked and can sign in again.",
            danger=False,
        ),
        UserAction(
            "disable",
            "Disable",
            "Disable user",
            "users:disable",
            events.USER_DISABLED,
            user_services.user_disable,
            policies.check_can_disable,
            state=_when(lambda u, f: not u.disabled_at, "Already disabled."),
            params=(REASON,),
            description="A disabled user cannot sign in until enabled again. Their sessions "
            "end now.",
            done="{email} is disabled.",
            at_stake=_stops_acting,
        ),
        UserAction(
            "enable",
            "Enable",
            "Enable user",
            "users:disable",
            events.USER_ENABLED,
            user_services.user_enable,
            policies.check_can_enable,
            state=_when(lambda u, f: u.disabled_at, "Not disabled."),
            params=(REASON,),
            description="The user can sign in again.",
            done="{email} is enabled.",
            danger=False,
        ),
        UserAction(
            "force-password-change",
            "Force password change",
            "Force a password change",
            "users:reset-password",
            events.USER_PASSWORD_CHANGE_FORCED,
            user_services.user_force_password_change,
            policies.check_can_force_password_change,
            state=_when(lambda u, f: not u.must_change_password, "Already has to change password."),
            params=(REASON,),
            description="The user keeps signing in with the current password once more, "
            "then has to choose a new one.",
            done="{email} must choose a new password at the next sign-in.",
            danger=False,
            menu="more",
        ),
        UserAction(
            "delete",
            "Delete",
            "Delete user",
            "users:delete",
            events.USER_DELETED,
            user_services.user_delete,
            policies.check_can_delete,
            state=lambda u, f: "Already deleted." if u.deleted_at else "",
            params=(REASON,),
            description="The user cannot sign in and disappears from the list. You can "
            "restore them within %d days." % RESTORE_DAYS,
            done="{email} is deleted. You can restore them for %d days." % RESTORE_DAYS,
            menu="more",
            api=ApiDoor("delete", "", 204, "none"),
            at_stake=_stops_acting,
        ),
        UserAction(
            "restore",
            "Restore",
            "Restore user",
            "users:delete",
            events.USER_RESTORED,
            user_services.user_restore,
            policies.check_can_restore,
            state=lambda u, f: "" if u.deleted_at else "Not deleted.",
            params=(REASON,),
            description="The user comes back with the status they had before.",
            done="{email} is restored.",
            danger=False,
        ),
        UserAction(
            "hard-delete",
            "Delete permanently",
            "Delete permanently",
            "users:delete",
            events.USER_ERASED,
            user_services.user_hard_delete,
            policies.check_can_erase,
            params=(
                Param(
                    "confirm_email",
                    CONFIRM_EMAIL,
                    label="Type the user's email address to confirm",
                    required=True,
                    max_length=254,
                    # A batch is confirmed by the password, not per address.
                    per_user=lambda user: user.email,
                ),
            ),
            description="This erases the user and everything attached to them. The audit "
            "log keeps its record. This cannot be undone.",
            done="{email} is permanently deleted.",
            reauth=True,
            menu="more",
            api=ApiDoor("post", "hard-delete", 204, "none"),
            at_stake=_stops_acting,
        ),
        UserAction(
            "reset-password",
            "Send password reset link",
            "Send a password reset link",
            "users:reset-password",
            events.PASSWORD_RESET_LINK_CREATED,
            passwords.password_reset_token_create,
            policies.check_can_send_reset_link,
            state=_not_deleted,
            params=(
                Param(
                    "send_email",
                    FLAG,
                    label="Email the link to the user",
                    default=False,
                    # A batch cannot show each link: it always emails them.
                    per_user=lambda user: True,
                ),
            ),
            description="A one-time link to choose a new password, valid for 24 hours.",
            done="A password reset link was created for {email}.",
            danger=False,
            menu="",
            api=ApiDoor("post", "reset-token", 201, "reset-token"),
        ),
        UserAction(
            "magic-link",
            "Send sign-in link",
            "Send a sign-in link",
            "users:reset-password",
            events.MAGIC_LINK_SENT,
            passwords.magic_link_send,
            policies.check_can_send_magic_link,
            state=_not_deleted,
            params=(Param("type", CHOICE, label="Link", choices=MAGIC_TYPES, default="recovery"),),
            description="A one-time link, valid for 15 minutes, emailed to the user.",
            done="A sign-in link was sent to {email}.",
            danger=False,
            menu="",
            api=ApiDoor("post", "magic-link", 200, "magic-link"),
        ),
        UserAction(
            "assign-role",
            "Assign role",
            "Assign a role",
            "roles:assign",
            events.USER_ROLE_ASSIGNED,
            user_role_assign,
            policies.check_can_assign_role,
            state=_when(lambda u, f: u.pk not in f["holders"], "Already has this role."),
            facts=_role_holders,
            params=(ROLE_PARAM,),
            guard_params=("role",),
            done="{email} has the role.",
            danger=False,
            menu="",
            api=None,  # the API's roles routes (`accounts.api.user_roles`)
        ),
        UserAction(
            "remove-role",
            "Remove role",
            "Remove a role",
            "roles:assign",
            events.USER_ROLE_REMOVED,
            user_role_remove,
            policies.check_can_remove_role,
            state=_when(lambda u, f: u.pk in f["holders"], "Does not have this role."),
            facts=_role_holders,
            params=(ROLE_PARAM,),
            guard_params=("role",),
            done="The role was taken from {email}.",
            menu="",
            api=None,
            at_stake=_loses_role,
        ),
        UserAction(
            "resend-verification",
            "Resend verification",
            "Resend the verification link",
            "users:update-email",
            events.EMAIL_VERIFICATION_SENT,
            verification.user_verification_resend,
            policies.check_can_resend_verification,
            state=_when(lambda u, f: not u.email_verified_at, "Already verified."),
            description="A new link proving the user owns their address, emailed to them.",
            done="A verification link was sent to {email}.",
            danger=False,
            menu="more",
        ),
        UserAction(
            "mark-verified",
            "Mark as verified",
            "Mark the address as verified",
            "users:update-email",
            events.EMAIL_MARKED_VERIFIED,
            verification.user_mark_verified,
            policies.check_can_mark_verified,
            state=_when(lambda u, f: not u.email_verified_at, "Already verified."),
            params=(REASON,),
            description="Vouch for the user's address without their link, for example after "
            "confirming it by phone. The audit log records that you did.",
            done="The address of {email} is marked as verified.",
            danger=False,
            menu="more",
        ),
    ]
}


def user_action(name: str) -> UserAction:
    """The declaration named `name` ("force-password-change" or, as batch
    forms and stored jobs spell it, "force_password_change")."""
    try:
        return USER_ACTIONS[str(name).replace("_", "-")]
    except KeyError:
        raise ValidationError(
            "Unknown action %(action)s.", code="unknown_action", params={"action": name}
        ) from None


def batch_actions() -> dict[str, UserAction]:
    return {a.key: a for a in USER_ACTIONS.values() if a.batch}
