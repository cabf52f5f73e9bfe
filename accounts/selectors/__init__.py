"""Reads about users (no writes): `listing` for the users list and
`counting` for how many match, `detail` for one user. Callers write
`from accounts import selectors`."""

from accounts.selectors.counting import MatchCount, user_count  # noqa: F401
from accounts.selectors.detail import (  # noqa: F401 (the package's names)
    STATUS_CHANGE_AUDIT_CODES,
    USER_GONE,
    user_audit_events,
    user_data_export,
    user_get,
    user_invitations,
    user_sessions,
    user_status_events,
    user_status_history,
)
from accounts.selectors.listing import (  # noqa: F401 (the package's names)
    DEFAULT_PAGE_SIZE,
    DEFAULT_SORT,
    EXACT_COUNT_LIMIT,
    MAX_SEARCH_LENGTH,
    NULLABLE_SORT_FIELDS,
    PAGE_SIZES,
    SORT_CHOICES,
    SORT_FIELDS,
    UserFilters,
    UserPage,
    decode_cursor,
    encode_cursor,
    mfa_enabled_q,
    user_filter_queryset,
    user_list,
)
from accounts.selectors.lockout import (  # noqa: F401 (the package's names)
    Lock,
    cooloff_start,
    tried_since,
    user_failed_signins,
    user_lock,
    user_locks,
)
