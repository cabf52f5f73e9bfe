"""The building blocks every API router shares: the error body, the error
statuses an operation documents, `ApiError`, and which refusal codes are
conflicts.

This is the bottom of the API layer: it imports no router and no app, so the
routers (`accounts.api.*`, `audit.api`, `rbac.api`) import it, and
`handover.api` imports them and wires them into the `NinjaAPI`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from ninja import Schema
from ninja.errors import HttpError
from pydantic import BeforeValidator, Field

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
    "has_members",
    "already_member",
}


class ErrorOut(Schema):
    """Every error body: a stable code and a sentence for people."""

    error: str
    detail: str


# The largest page a list operation returns.
MAX_LIMIT = 200

# The error statuses every admin operation documents: besides its own
# refusals, any request may meet 429 (too many wrong keys from its address,
# asked before the key is looked up) and 503 (the database or a lock is
# busy; Retry-After says when to try again).
ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    429: ErrorOut,
    503: ErrorOut,
}


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


# A list operation's `limit` parameter, its bounds in the schema.
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]


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


# Strict dates in query parameters. Pydantic's lax mode reads a number as a
# Unix timestamp (`until=0.5` is 1970-01-01T00:00:00.5Z); the schema says
# RFC 3339, so anything else is a 400.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339_date_time(value):
    if isinstance(value, str) and not _DATE_TIME.fullmatch(value):
        raise ValueError("an RFC 3339 date-time with an offset, e.g. 2026-01-31T12:00:00Z")
    return value


def _iso_date(value):
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


DateTimeParam = Annotated[datetime, BeforeValidator(_rfc3339_date_time)]
DateParam = Annotated[date, BeforeValidator(_iso_date)]
