"""The webhook catalogue: which audit event types become webhook events.

Every action on a user, as its declaration names its event type
(`accounts.services.actions.USER_ACTIONS`), and every other change to a
user, an invitation, a role or an organization and its members: a
successful audit event whose type is here is delivered to each enabled
endpoint that wants it. Reads, lists, sign-ins and refusals are not
changes and are not sent. The webhook
event's `type` is the audit event type itself, so a receiver and the
audit log speak the same names.
"""

from __future__ import annotations

from accounts.services.actions import USER_ACTIONS
from audit import events
from audit.events import SENTENCES

# Every action on a user, read from its declaration: a new action is sent to
# webhooks with no line here (tests/webhooks/test_catalogue.py checks it).
ACTION_EVENTS: tuple[str, ...] = tuple(dict.fromkeys(a.event for a in USER_ACTIONS.values()))

# The other changes: made on their own pages and routes rather than as an
# action on a user from a list.
OTHER_CHANGES: tuple[str, ...] = (
    # users
    events.USER_CREATED,
    events.USER_UPDATED,
    events.USER_PURGED,
    events.ACCOUNT_DELETION_REQUESTED,
    events.ACCOUNT_DELETION_CANCELLED,
    events.PROFILE_UPDATED,
    events.PASSWORD_CHANGED,
    events.PASSWORD_SET_BY_ADMIN,
    events.PASSWORD_RESET_COMPLETED,
    events.EMAIL_CHANGED,
    events.EMAIL_VERIFIED,
    events.MFA_ENROLLED,
    events.MFA_PASSKEY_ADDED,
    events.MFA_REMOVED,
    events.SESSION_REVOKED,
    events.SESSION_REVOKED_ALL,
    # invitations
    events.INVITATION_CREATED,
    events.INVITATION_RESENT,
    events.INVITATION_REVOKED,
    events.INVITATION_ACCEPTED,
    # roles and access
    events.ROLE_CREATED,
    events.ROLE_UPDATED,
    events.ROLE_DELETED,
    events.ROLE_ASSIGNED,
    events.ROLE_REMOVED,
    events.USER_PERMISSIONS_UPDATED,
    events.OWNERSHIP_TRANSFERRED,
    events.OWNERSHIP_RELINQUISHED,
    # organizations and their members (a member's roles there change through
    # rbac.user_role.assigned / rbac.user_role.removed carrying the
    # organization: see MEMBERSHIP_EVENTS)
    events.ORGANIZATION_CREATED,
    events.ORGANIZATION_UPDATED,
    events.ORGANIZATION_DELETED,
    events.MEMBERSHIP_ADDED,
    events.MEMBERSHIP_REMOVED,
)
EVENT_TYPES: tuple[str, ...] = ACTION_EVENTS + tuple(
    t for t in OTHER_CHANGES if t not in ACTION_EVENTS
)
CATALOGUE: frozenset[str] = frozenset(EVENT_TYPES)

# Events about a user's membership of an organization: their `data` is the
# membership -- the organization and the user, each as the API returns it.
# A role given or taken inside an organization is one (its audit changes
# name the organization); a global one is about the user alone.
MEMBERSHIP_EVENTS: frozenset[str] = frozenset(
    {
        events.MEMBERSHIP_ADDED,
        events.MEMBERSHIP_REMOVED,
        events.USER_ROLE_ASSIGNED,
        events.USER_ROLE_REMOVED,
    }
)

# Sent only by "Send test event", to the one endpoint asked.
TEST_EVENT = "webhook.test"


def describe(event_type: str) -> str:
    """The event's plain-language sentence, as the audit log words it."""
    done = SENTENCES.get(event_type, ("", ""))[0]
    return done.replace("{actor}", "someone").replace("{target}", "a target").replace("{until}", "")
