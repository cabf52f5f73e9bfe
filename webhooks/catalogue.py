"""The webhook catalogue: which audit event types become webhook events.

Every change to a user, an invitation, a role or an organization and its
members, as its action declares
its event type (`audit.events`): a successful audit event whose type is
here is delivered to each enabled endpoint that wants it. Reads, lists,
sign-ins and refusals are not changes and are not sent. The webhook
event's `type` is the audit event type itself, so a receiver and the
audit log speak the same names.
"""

from __future__ import annotations

from audit.events import SENTENCES

EVENT_TYPES: tuple[str, ...] = (
    # users
    "accounts.user.created",
    "accounts.user.updated",
    "accounts.user.banned",
    "accounts.user.unbanned",
    "accounts.user.disabled",
    "accounts.user.enabled",
    "accounts.user.deleted",
    "accounts.user.restored",
    "accounts.user.erased",
    "accounts.user.unlocked",
    "accounts.user.password_change_forced",
    "accounts.profile.updated",
    "accounts.password.changed",
    "accounts.password.set_by_admin",
    "accounts.password.reset_completed",
    "accounts.email.changed",
    "accounts.email.verified",
    "accounts.mfa.enrolled",
    "accounts.mfa.passkey_added",
    "accounts.mfa.removed",
    "accounts.session.revoked",
    "accounts.session.revoked_all",
    # invitations
    "accounts.invitation.created",
    "accounts.invitation.resent",
    "accounts.invitation.revoked",
    "accounts.invitation.accepted",
    # roles and access
    "rbac.role.created",
    "rbac.role.updated",
    "rbac.role.deleted",
    "rbac.role.assigned",
    "rbac.role.removed",
    "rbac.user_role.assigned",
    "rbac.user_role.removed",
    "rbac.user.permissions_updated",
    "rbac.ownership.transferred",
    "rbac.ownership.relinquished",
    # organizations and their members (a member's roles there change through
    # rbac.user_role.assigned / rbac.user_role.removed carrying the
    # organization: see MEMBERSHIP_EVENTS)
    "rbac.organization.created",
    "rbac.organization.updated",
    "rbac.organization.deleted",
    "rbac.membership.added",
    "rbac.membership.removed",
)
CATALOGUE: frozenset[str] = frozenset(EVENT_TYPES)

# Events about a user's membership of an organization: their `data` is the
# membership -- the organization and the user, each as the API returns it.
# A role given or taken inside an organization is one (its audit changes
# name the organization); a global one is about the user alone.
MEMBERSHIP_EVENTS: frozenset[str] = frozenset(
    {
        "rbac.membership.added",
        "rbac.membership.removed",
        "rbac.user_role.assigned",
        "rbac.user_role.removed",
    }
)

# Sent only by "Send test event", to the one endpoint asked.
TEST_EVENT = "webhook.test"


def describe(event_type: str) -> str:
    """The event's plain-language sentence, as the audit log words it."""
    done = SENTENCES.get(event_type, ("", ""))[0]
    return done.replace("{actor}", "someone").replace("{target}", "a target").replace("{until}", "")
