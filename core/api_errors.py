"""The building blocks every API router shares: the error body, the error
statuses an operation documents, `ApiError`, and which refusal codes are
conflicts.

This is the bottom of the API layer: it imports no router and no app, so the
routers (`accounts.api.*`, `audit.api`, `rbac.api`) import it, and
`handover.api` imports them and wires them into the `NinjaAPI`.
"""

from __future__ import annotations

from ninja import Schema
from ninja.errors import HttpError

# Guard refusals that are conflicts with the state of the target rather
# than missing permissions.
CONFLICT_CODES = {"owner_protected", "self_action", "last_manager", "already_owner"}
VALIDATION_CONFLICT_CODES = {
    "duplicate_email",
    "duplicate_slug",
    "owner_exists",
    "exists",
    "user_exists",
    "invitation_pending",
    "sent",  # an email already sent is not sent again
    "not_resumable",  # only a failed or cancelled job resumes
}


class ErrorOut(Schema):
    """Every error body: a stable code and a sentence for people."""

    error: str
    detail: str


# The largest page a list operation returns.
MAX_LIMIT = 200

# The error statuses every admin operation documents.
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class ApiError(HttpError):
    """Raise from a handler for a specific status and error code."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(status, detail)
        self.code = code
        self.detail = detail


def responses(ok_status: int, schema, *, rate_limited: bool = False) -> dict:
    """The `response=` mapping of an operation: its success schema and the
    documented errors (plus 429 for rate-limited public routes)."""
    out = {ok_status: schema, **ERRORS}
    if rate_limited:
        out[429] = ErrorOut
    return out


def check_limit(limit: int) -> int:
    """A list operation's page size, or a 400 unless it is 1..MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_LIMIT}.")
    return limit


def check_choice(name: str, value: str, choices) -> str:
    """A filter's value, or a 400 naming the values `name` may take."""
    if value not in choices:
        raise ApiError(400, "validation_error", f"{name} must be one of: " + ", ".join(choices))
    return value
