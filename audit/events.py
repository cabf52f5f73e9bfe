"""Every audit event type Handover writes, each with the plain-language
sentence people read in the activity lists (`audit.sentences`).

`audit.record` checks each event type against `EVENT_TYPES`: under
`AUDIT_STRICT_EVENT_TYPES` (tests) an event type without a sentence raises,
so a new action cannot ship rendering as a dotted code; in production it
is logged and recorded anyway (a wording never blocks a write).
"""

from __future__ import annotations

# --- event types as named constants -----------------------------------------
# Call sites name an event type by its constant (`events.USER_BANNED`), so a
# typo is an ImportError rather than a new, sentence-less type.
USER_BANNED = "accounts.user.banned"
USER_UNBANNED = "accounts.user.unbanned"
USER_UNLOCKED = "accounts.user.unlocked"
USER_DISABLED = "accounts.user.disabled"
USER_ENABLED = "accounts.user.enabled"
USER_PASSWORD_CHANGE_FORCED = "accounts.user.password_change_forced"
USER_DELETED = "accounts.user.deleted"
USER_RESTORED = "accounts.user.restored"
USER_ERASED = "accounts.user.erased"
PASSWORD_RESET_LINK_CREATED = "accounts.password.reset_link_created"
MAGIC_LINK_SENT = "accounts.magic_link.sent"
USER_ROLE_ASSIGNED = "rbac.user_role.assigned"
USER_ROLE_REMOVED = "rbac.user_role.removed"
EMAIL_VERIFICATION_SENT = "accounts.email.verification_sent"
EMAIL_MARKED_VERIFIED = "accounts.email.marked_verified"
SIGN_IN_REPORTED = "accounts.sign_in.reported"
USER_PURGED = "accounts.user.purged"
ACCOUNT_DELETION_REQUESTED = "accounts.account.deletion_requested"
ACCOUNT_DELETION_CANCELLED = "accounts.account.deletion_cancelled"
SAVED_VIEW_CREATED = "accounts.saved_view.created"
SAVED_VIEW_UPDATED = "accounts.saved_view.updated"
SAVED_VIEW_DELETED = "accounts.saved_view.deleted"
ACCOUNT_DATA_EXPORTED = "accounts.account.data_exported"
BATCH_QUEUED = "accounts.batch.queued"
USER_CREATED = "accounts.user.created"
USER_UPDATED = "accounts.user.updated"
USER_VIEWED = "accounts.user.viewed"
USER_LISTED = "accounts.user.listed"
USER_DATA_EXPORTED = "accounts.user.data_exported"
USERS_EXPORTED = "accounts.users.exported"
IMPERSONATION_STARTED = "accounts.impersonation.started"
IMPERSONATION_STOPPED = "accounts.impersonation.stopped"
IMPERSONATION_EXPIRED = "accounts.impersonation.expired"
IMPERSONATION_ENDED = "accounts.impersonation.ended"
IMPERSONATION_REFUSED = "accounts.impersonation.refused"
OWNER_BOOTSTRAPPED = "accounts.owner.bootstrapped"
LOGIN_SUCCEEDED = "accounts.login.succeeded"
LOGIN_FAILED = "accounts.login.failed"
LOGIN_LOCKED_OUT = "accounts.login.locked_out"
LOGIN_THROTTLED = "accounts.login.throttled"
SESSION_REVOKED = "accounts.session.revoked"
SESSION_REVOKED_ALL = "accounts.session.revoked_all"
INVITATION_CREATED = "accounts.invitation.created"
INVITATION_RESENT = "accounts.invitation.resent"
INVITATION_REVOKED = "accounts.invitation.revoked"
INVITATION_ACCEPTED = "accounts.invitation.accepted"
PASSWORD_CHANGED = "accounts.password.changed"
PASSWORD_SET_BY_ADMIN = "accounts.password.set_by_admin"
PASSWORD_RESET_REQUESTED = "accounts.password.reset_requested"
PASSWORD_RESET_COMPLETED = "accounts.password.reset_completed"
MAGIC_LINK_USED = "accounts.magic_link.used"
MFA_ENROLLED = "accounts.mfa.enrolled"
MFA_REPLACED = "accounts.mfa.replaced"
MFA_REMOVED = "accounts.mfa.removed"
MFA_PASSKEY_ADDED = "accounts.mfa.passkey_added"
EMAIL_CHANGED = "accounts.email.changed"
EMAIL_VERIFIED = "accounts.email.verified"
API_KEY_CREATED = "accounts.api_key.created"
API_KEY_REVOKED = "accounts.api_key.revoked"
API_KEY_REJECTED = "accounts.api_key.rejected"
ROLE_CREATED = "rbac.role.created"
ROLE_UPDATED = "rbac.role.updated"
ROLE_DELETED = "rbac.role.deleted"
ROLE_ASSIGNED = "rbac.role.assigned"
ROLE_REMOVED = "rbac.role.removed"
USER_PERMISSIONS_UPDATED = "rbac.user.permissions_updated"
OWNERSHIP_TRANSFERRED = "rbac.ownership.transferred"
PAGE_DENIED = "rbac.page.denied"
DENIED = "rbac.denied"
LOGOUT = "accounts.logout"
PROFILE_UPDATED = "accounts.profile.updated"
SESSION_REAUTHENTICATED = "accounts.session.reauthenticated"
MFA_RECOVERY_CODES_REGENERATED = "accounts.mfa.recovery_codes_regenerated"
MFA_LISTED = "accounts.mfa.listed"
SESSION_LISTED = "accounts.session.listed"
API_KEY_LISTED = "accounts.api_key.listed"
INVITATION_LISTED = "accounts.invitation.listed"
INVITATION_VIEWED = "accounts.invitation.viewed"
INVITATION_IMPORTED = "accounts.invitation.imported"
JOB_CANCELLED = "accounts.job.cancelled"
JOB_RESUMED = "accounts.job.resumed"
JOB_VIEWED = "accounts.job.viewed"
EMAIL_LISTED = "accounts.email.listed"
EMAIL_RETRIED = "accounts.email.retried"
AUDIT_EVENT_LISTED = "audit.event.listed"
AUDIT_CHAIN_VERIFIED = "audit.chain.verified"
AUDIT_LOG_EXPORTED = "audit.log.exported"
AUDIT_LOG_PRUNED = "audit.log.pruned"
AUDIT_CHAIN_REKEYED = "audit.chain.rekeyed"
AUDIT_USER_SCRUBBED = "audit.user.scrubbed"
OWNERSHIP_RELINQUISHED = "rbac.ownership.relinquished"
ROLE_LISTED = "rbac.role.listed"
ROLE_VIEWED = "rbac.role.viewed"
ORGANIZATION_CREATED = "rbac.organization.created"
ORGANIZATION_UPDATED = "rbac.organization.updated"
ORGANIZATION_DELETED = "rbac.organization.deleted"
ORGANIZATION_LISTED = "rbac.organization.listed"
ORGANIZATION_VIEWED = "rbac.organization.viewed"
ORGANIZATION_MEMBERS_LISTED = "rbac.organization.members_listed"
MEMBERSHIP_ADDED = "rbac.membership.added"
MEMBERSHIP_REMOVED = "rbac.membership.removed"
ENDPOINT_CREATED = "webhooks.endpoint.created"
ENDPOINT_UPDATED = "webhooks.endpoint.updated"
ENDPOINT_DELETED = "webhooks.endpoint.deleted"
ENDPOINT_SECRET_ROTATED = "webhooks.endpoint.secret_rotated"
ENDPOINT_TESTED = "webhooks.endpoint.tested"
ENDPOINT_DISABLED = "webhooks.endpoint.disabled"
ENDPOINT_LISTED = "webhooks.endpoint.listed"
DELIVERY_REPLAYED = "webhooks.delivery.replayed"

# action -> (what was done, what was tried when refused). {actor} and
# {target} are filled in; {until} only for bans.
SENTENCES: dict[str, tuple[str, str]] = {
    "accounts.user.created": ("{actor} created {target}", "{actor} tried to create {target}"),
    "accounts.user.banned": ("{actor} banned {target}{until}", "{actor} tried to ban {target}"),
    "accounts.user.unbanned": ("{actor} unbanned {target}", "{actor} tried to unban {target}"),
    "accounts.user.disabled": ("{actor} disabled {target}", "{actor} tried to disable {target}"),
    "accounts.user.enabled": ("{actor} enabled {target}", "{actor} tried to enable {target}"),
    "accounts.user.deleted": ("{actor} deleted {target}", "{actor} tried to delete {target}"),
    "accounts.user.restored": ("{actor} restored {target}", "{actor} tried to restore {target}"),
    "accounts.user.erased": (
        "{actor} deleted {target} permanently",
        "{actor} tried to delete {target} permanently",
    ),
    "accounts.user.updated": (
        "{actor} edited the profile of {target}",
        "{actor} tried to edit the profile of {target}",
    ),
    "accounts.user.viewed": ("{actor} viewed {target}", "{actor} tried to view {target}"),
    "accounts.user.listed": ("{actor} looked through the users", "{actor} tried to list users"),
    "accounts.user.data_exported": (
        "{actor} exported the personal data of {target}",
        "{actor} tried to export the personal data of {target}",
    ),
    "accounts.users.exported": ("{actor} exported users as CSV", "{actor} tried to export users"),
    "accounts.user.password_change_forced": (
        "{actor} asked {target} to choose a new password",
        "{actor} tried to force a password change on {target}",
    ),
    "accounts.sign_in.reported": (
        "{actor} reported a sign-in they did not make: every session signed out, "
        "a password reset started",
        "{actor} tried to report a sign-in they did not make",
    ),
    "accounts.user.purged": (
        "{actor} removed {target} for good: the restore window had ended",
        "{actor} tried to remove {target} for good",
    ),
    "accounts.account.deletion_requested": (
        "{actor} asked for their own account to be deleted",
        "{actor} tried to ask for their own account to be deleted",
    ),
    "accounts.account.deletion_cancelled": (
        "{actor} cancelled the deletion of their own account",
        "{actor} tried to cancel the deletion of their own account",
    ),
    "accounts.account.data_exported": (
        "{actor} downloaded their own data",
        "{actor} tried to download their own data",
    ),
    "accounts.saved_view.created": (
        "{actor} saved the view {target}",
        "{actor} tried to save the view {target}",
    ),
    "accounts.saved_view.updated": (
        "{actor} renamed or shared the view {target}",
        "{actor} tried to change the view {target}",
    ),
    "accounts.saved_view.deleted": (
        "{actor} deleted the view {target}",
        "{actor} tried to delete the view {target}",
    ),
    "accounts.impersonation.started": (
        "{actor} started viewing the dashboard as {target}",
        "{actor} tried to view the dashboard as {target}",
    ),
    "accounts.impersonation.stopped": (
        "{actor} stopped viewing as them",
        "{actor} tried to stop viewing as them",
    ),
    "accounts.impersonation.expired": (
        "{actor} was returned to their own view: the time was up",
        "{actor} was returned to their own view: the time was up",
    ),
    "accounts.impersonation.ended": (
        "{actor} was returned to their own view: no longer allowed to view as them",
        "{actor} was returned to their own view: no longer allowed to view as them",
    ),
    "accounts.impersonation.refused": (
        "{actor} changed something while read-only",
        "{actor} tried to change something (refused: read-only)",
    ),
    "accounts.owner.bootstrapped": ("{target} became the owner", "Making {target} owner failed"),
    "accounts.login.succeeded": ("{actor} signed in", "{actor} could not sign in"),
    "accounts.login.failed": ("Failed sign-in as {target}", "Failed sign-in as {target}"),
    "accounts.login.locked_out": (
        "{target} was locked out after too many failed sign-ins",
        "{target} was locked out after too many failed sign-ins",
    ),
    "accounts.login.throttled": (
        "Sign-ins from {target} were refused after too many failures",
        "Sign-ins from {target} were refused after too many failures",
    ),
    "accounts.user.unlocked": ("{actor} unlocked {target}", "{actor} tried to unlock {target}"),
    "accounts.session.revoked": (
        "{actor} ended a session of {target}",
        "{actor} tried to end a session of {target}",
    ),
    "accounts.session.revoked_all": (
        "{actor} ended every session of {target}",
        "{actor} tried to end the sessions of {target}",
    ),
    "accounts.invitation.created": ("{actor} invited {target}", "{actor} tried to invite {target}"),
    "accounts.invitation.resent": (
        "{actor} sent the invitation to {target} again",
        "{actor} tried to resend the invitation to {target}",
    ),
    "accounts.invitation.revoked": (
        "{actor} revoked the invitation to {target}",
        "{actor} tried to revoke the invitation to {target}",
    ),
    "accounts.invitation.accepted": (
        "{target} accepted the invitation",
        "{target} could not accept the invitation",
    ),
    "accounts.password.changed": (
        "{actor} changed their password",
        "{actor} tried to change their password",
    ),
    "accounts.password.set_by_admin": (
        "{actor} set a new password for {target}",
        "{actor} tried to set a password for {target}",
    ),
    "accounts.password.reset_link_created": (
        "{actor} created a password reset link for {target}",
        "{actor} tried to create a reset link for {target}",
    ),
    "accounts.password.reset_requested": (
        "{target} asked for a password reset",
        "{target} asked for a password reset",
    ),
    "accounts.password.reset_completed": (
        "{target} chose a new password",
        "{target} could not reset their password",
    ),
    "accounts.magic_link.sent": (
        "{actor} sent a sign-in link to {target}",
        "{actor} tried to send a sign-in link to {target}",
    ),
    "accounts.magic_link.used": ("{target} signed in with a link", "A sign-in link was refused"),
    "accounts.mfa.enrolled": (
        "{actor} turned on two-factor authentication",
        "{actor} could not turn on two-factor authentication",
    ),
    "accounts.mfa.replaced": (
        "{actor} replaced their authenticator app",
        "{actor} tried to replace their authenticator app",
    ),
    "accounts.mfa.passkey_added": (
        "{actor} added a passkey",
        "{actor} tried to add a passkey",
    ),
    "accounts.mfa.removed": (
        "{actor} removed an authenticator of {target}",
        "{actor} tried to remove an authenticator of {target}",
    ),
    "accounts.email.changed": (
        "{actor} changed the email of {target}",
        "{actor} tried to change the email of {target}",
    ),
    "accounts.email.verified": ("{target} verified their email", "Email verification failed"),
    EMAIL_VERIFICATION_SENT: (
        "{actor} sent {target} a link to verify their email",
        "{actor} tried to send {target} a link to verify their email",
    ),
    EMAIL_MARKED_VERIFIED: (
        "{actor} marked the email of {target} as verified",
        "{actor} tried to mark the email of {target} as verified",
    ),
    "accounts.api_key.created": (
        "{actor} created the API key {target}",
        "{actor} tried to create an API key",
    ),
    "accounts.api_key.revoked": (
        "{actor} revoked the API key {target}",
        "{actor} tried to revoke the API key {target}",
    ),
    "accounts.api_key.rejected": (
        "Wrong API keys from {target}",
        "Wrong API keys from {target}",
    ),
    "rbac.role.created": ("{actor} created the role {target}", "{actor} tried to create a role"),
    "rbac.role.updated": (
        "{actor} changed the role {target}",
        "{actor} tried to change the role {target}",
    ),
    "rbac.role.deleted": (
        "{actor} deleted the role {target}",
        "{actor} tried to delete the role {target}",
    ),
    "rbac.role.assigned": (
        "{actor} gave {target} a role",
        "{actor} tried to give {target} a role",
    ),
    "rbac.role.removed": (
        "{actor} took a role from {target}",
        "{actor} tried to take a role from {target}",
    ),
    "rbac.user.permissions_updated": (
        "{actor} changed the direct permissions of {target}",
        "{actor} tried to change the permissions of {target}",
    ),
    "rbac.ownership.transferred": (
        "{actor} handed ownership to {target}",
        "{actor} tried to hand ownership to {target}",
    ),
    "rbac.page.denied": ("{actor} was refused a page", "{actor} was refused a page"),
    "rbac.denied": ("{actor} was refused an action", "{actor} was refused an action"),
    "accounts.logout": ("{actor} signed out", "{actor} could not sign out"),
    "accounts.profile.updated": (
        "{actor} edited their own profile",
        "{actor} tried to edit their own profile",
    ),
    "accounts.session.reauthenticated": (
        "{actor} confirmed their password again",
        "{actor} could not confirm their password",
    ),
    "accounts.mfa.recovery_codes_regenerated": (
        "{actor} made new recovery codes for {target}",
        "{actor} tried to make new recovery codes for {target}",
    ),
    "accounts.mfa.listed": (
        "{actor} looked at the authenticators of {target}",
        "{actor} tried to look at the authenticators of {target}",
    ),
    "accounts.session.listed": (
        "{actor} looked at the sessions of {target}",
        "{actor} tried to look at the sessions of {target}",
    ),
    "accounts.api_key.listed": (
        "{actor} looked through the API keys",
        "{actor} tried to list API keys",
    ),
    "accounts.invitation.listed": (
        "{actor} looked through the invitations",
        "{actor} tried to list invitations",
    ),
    "accounts.invitation.viewed": (
        "{actor} viewed the invitation to {target}",
        "{actor} tried to view the invitation to {target}",
    ),
    "accounts.invitation.imported": (
        "{actor} imported invitations from a file",
        "{actor} tried to import invitations",
    ),
    "accounts.batch.queued": (
        "{actor} started a batch job",
        "{actor} tried to start a batch job",
    ),
    "accounts.job.cancelled": ("{actor} cancelled a job", "{actor} tried to cancel a job"),
    "accounts.job.resumed": ("{actor} resumed a job", "{actor} tried to resume a job"),
    "accounts.job.viewed": ("{actor} looked at a job", "{actor} tried to look at a job"),
    "accounts.email.listed": (
        "{actor} looked through the email outbox",
        "{actor} tried to look through the email outbox",
    ),
    "accounts.email.retried": (
        "{actor} sent an email again",
        "{actor} tried to send an email again",
    ),
    "audit.event.listed": (
        "{actor} looked through the audit log",
        "{actor} tried to read the audit log",
    ),
    "audit.chain.verified": (
        "{actor} verified the audit chain",
        "{actor} tried to verify the audit chain",
    ),
    "audit.log.exported": (
        "{actor} exported the audit log",
        "{actor} tried to export the audit log",
    ),
    "audit.log.pruned": (
        "Audit events past their retention were removed",
        "Removing expired audit events failed",
    ),
    "audit.chain.rekeyed": (
        "{actor} re-keyed the audit chain",
        "{actor} tried to re-key the audit chain",
    ),
    "audit.user.scrubbed": (
        "{actor} erased the personal data of {target} from the audit log",
        "{actor} tried to erase the personal data of {target} from the audit log",
    ),
    "rbac.ownership.relinquished": (
        "{actor} gave up ownership",
        "{actor} tried to give up ownership",
    ),
    "rbac.role.listed": ("{actor} looked through the roles", "{actor} tried to list roles"),
    "rbac.role.viewed": (
        "{actor} viewed the role {target}",
        "{actor} tried to view the role {target}",
    ),
    "rbac.user_role.assigned": (
        "{actor} gave {target} a role",
        "{actor} tried to give {target} a role",
    ),
    "rbac.organization.created": (
        "{actor} created the organization {target}",
        "{actor} tried to create the organization {target}",
    ),
    "rbac.organization.updated": (
        "{actor} edited the organization {target}",
        "{actor} tried to edit the organization {target}",
    ),
    "rbac.organization.deleted": (
        "{actor} deleted the organization {target}",
        "{actor} tried to delete the organization {target}",
    ),
    "rbac.organization.listed": (
        "{actor} looked through the organizations",
        "{actor} tried to list organizations",
    ),
    "rbac.organization.viewed": (
        "{actor} viewed the organization {target}",
        "{actor} tried to view the organization {target}",
    ),
    "rbac.organization.members_listed": (
        "{actor} looked through the members of {target}",
        "{actor} tried to list the members of {target}",
    ),
    "rbac.membership.added": (
        "{actor} added {target} to an organization",
        "{actor} tried to add a member to {target}",
    ),
    "rbac.membership.removed": (
        "{actor} removed {target} from an organization",
        "{actor} tried to remove a member from {target}",
    ),
    "rbac.user_role.removed": (
        "{actor} took a role from {target}",
        "{actor} tried to take a role from {target}",
    ),
    "webhooks.endpoint.created": (
        "{actor} added the webhook endpoint {target}",
        "{actor} tried to add a webhook endpoint",
    ),
    "webhooks.endpoint.updated": (
        "{actor} changed the webhook endpoint {target}",
        "{actor} tried to change the webhook endpoint {target}",
    ),
    "webhooks.endpoint.deleted": (
        "{actor} removed the webhook endpoint {target}",
        "{actor} tried to remove the webhook endpoint {target}",
    ),
    "webhooks.endpoint.secret_rotated": (
        "{actor} rotated the secret of the webhook endpoint {target}",
        "{actor} tried to rotate the secret of the webhook endpoint {target}",
    ),
    "webhooks.endpoint.tested": (
        "{actor} sent a test event to {target}",
        "{actor} tried to send a test event to {target}",
    ),
    "webhooks.deliveries.pruned": (
        "Webhook deliveries past their retention were removed",
        "Removing expired webhook deliveries failed",
    ),
    "webhooks.endpoint.disabled": (
        "The webhook endpoint {target} was disabled after repeated failures",
        "Disabling the webhook endpoint {target} failed",
    ),
    "webhooks.endpoint.listed": (
        "{actor} looked through the webhook endpoints",
        "{actor} tried to look through the webhook endpoints",
    ),
    "webhooks.delivery.replayed": (
        "{actor} sent a webhook delivery to {target} again",
        "{actor} tried to send a webhook delivery to {target} again",
    ),
}

EVENT_TYPES = frozenset(SENTENCES)
