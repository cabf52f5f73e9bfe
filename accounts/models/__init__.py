"""Accounts: users, invitations, one-time tokens, sessions, API keys, the
email outbox and batch jobs.

Only `accounts.services` mutates these models; reads go through
`accounts.selectors`.
"""

from accounts.models.access import (
    INVITATION_STATUSES,
    ApiKey,
    Invitation,
    InvitationQuerySet,
    KnownDevice,
    MadeThrough,
    OneTimeToken,
    TokenPurpose,
    UserSession,
    invitation_status_q,
)
from accounts.models.users import (
    User,
    UserManager,
    UserQuerySet,
    UserStatus,
    email_for_people,
    email_letters,
    normalize_email,
    status_q,
)
from accounts.models.work import (
    BatchJob,
    EmailStatus,
    OutboundEmail,
    RateLimitCounter,
    SavedView,
    SavedViewPage,
)

__all__ = [
    "ApiKey",
    "BatchJob",
    "EmailStatus",
    "INVITATION_STATUSES",
    "Invitation",
    "InvitationQuerySet",
    "KnownDevice",
    "MadeThrough",
    "OneTimeToken",
    "OutboundEmail",
    "RateLimitCounter",
    "SavedView",
    "SavedViewPage",
    "TokenPurpose",
    "User",
    "UserManager",
    "UserQuerySet",
    "UserSession",
    "UserStatus",
    "email_for_people",
    "email_letters",
    "invitation_status_q",
    "normalize_email",
    "status_q",
]
