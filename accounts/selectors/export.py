"""The users list as CSV lines (the page's "Export CSV" and
`GET /api/admin/users/export` alike): the filtered users within the
actor's reach, streamed, spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from accounts.selectors.listing import UserFilters, mfa_enabled_q, user_filter_queryset

USER_CSV_HEADER = ["id", "email", "name", "status", "roles", "mfa", "last_sign_in", "created_at"]


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def user_csv_lines(filters: UserFilters, *, actor) -> Iterator[str]:
    """The header, then one line per matching user (newest first), read
    2,000 at a time."""
    qs = (
        user_filter_queryset(filters, actor=actor)
        .annotate(has_mfa=mfa_enabled_q())
        .prefetch_related("roles")
        .order_by("-created_at", "-pk")
    )
    writer = csv.writer(_Echo())
    yield writer.writerow(USER_CSV_HEADER)
    for user in qs.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                user.pk,
                csv_safe(user.email),
                csv_safe(user.name),
                user.status,
                csv_safe(" ".join(r.slug for r in user.roles.all())),
                "on" if user.has_mfa else "off",
                user.last_login.isoformat() if user.last_login else "",
                user.created_at.isoformat(),
            ]
        )
