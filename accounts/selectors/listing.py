"""The users list: filters, keyset pagination over a stable sort, and how
many users match (exact while cheap, PostgreSQL's estimate above)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db import connection
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import User, UserStatus, email_letters, status_q
from rbac.actor import as_actor
from rbac.models import Membership, Organization, Role, UserRole

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# sort key -> (model field, descending by default?)
SORT_FIELDS = {
    "created": "created_at",
    "last_login": "last_login",
    "email": "email",
    "name": "name",
}
SORT_CHOICES = [
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("-last_login", "Recently signed in"),
    ("last_login", "Least recently signed in"),
    ("email", "Email A–Z"),
    ("-email", "Email Z–A"),
    ("name", "Name A–Z"),
    ("-name", "Name Z–A"),
]
DEFAULT_SORT = "-created"
MAX_SEARCH_LENGTH = 100


@dataclass
class UserFilters:
    q: str = ""
    status: str = ""
    role: str = ""
    organization: str = ""  # an organization's slug
    mfa: str = ""  # "on" | "off" | ""
    inactive_before: date | None = None
    sort: str = DEFAULT_SORT
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self):
        self.q = (self.q or "").strip()[:MAX_SEARCH_LENGTH]
        if self.status not in UserStatus.values:
            self.status = ""
        if self.mfa not in ("on", "off"):
            self.mfa = ""
        if self.sort not in dict(SORT_CHOICES):
            self.sort = DEFAULT_SORT
        if self.size not in PAGE_SIZES:
            self.size = DEFAULT_PAGE_SIZE

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.q
            or self.status
            or self.role
            or self.organization
            or self.mfa
            or self.inactive_before
        )


@dataclass
class UserPage:
    users: list = field(default_factory=list)
    next_cursor: str = ""
    prev_cursor: str = ""
    size: int = DEFAULT_PAGE_SIZE
    # How many rows come before this page ("26-50 of ..."), or None when a
    # cursor from elsewhere does not say.
    start: int | None = 0
    # How many users match, when this page was reached without a cursor and
    # holds the last of them (a search for a rare term: one page of
    # matches); None otherwise. `user_count` then needs no query.
    total: int | None = None
    # Every user matching the filters (unordered, not paged): what
    # `user_count` counts, so it does not build the filters again (a role
    # or organization filter is one more query each time).
    matching: QuerySet | None = field(default=None, repr=False, compare=False)


def mfa_enabled_q() -> ExpressionWrapper:
    """A confirmed authenticator app or passkey (`accounts.security.has_mfa`)."""
    return ExpressionWrapper(
        Q(Exists(TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True)))
        | Q(Exists(WebAuthnCredential.objects.filter(user_id=OuterRef("pk"), confirmed=True))),
        output_field=BooleanField(),
    )


def search_q(text: str) -> Q:
    """Case-insensitive substring of the email or the name. Addresses are
    stored lower-cased (`normalize_email`), so the email is matched as
    stored against the text in that same form: `email LIKE '%text%'`,
    no `UPPER()` a row (migration 0015); the name as
    `UPPER(name) LIKE UPPER('%text%')`. The trigram indexes are on those
    same expressions (migrations 0013 and 0015)."""
    return Q(email__contains=email_letters(text)) | Q(name__icontains=text)


def user_filter_queryset(filters: UserFilters, *, actor) -> QuerySet:
    """Every user within `actor`'s reach (`visible_users`) matching
    `filters` (deleted users only when asked for)."""
    return _matching(as_actor(actor).visible_users(User.objects.all()), filters)


def _matching(qs: QuerySet, filters: UserFilters) -> QuerySet:
    """The users of `qs` (already within an actor's reach) matching `filters`."""
    if filters.status:
        qs = qs.filter(status_q(filters.status))
    else:
        qs = qs.filter(deleted_at__isnull=True)
    if filters.q:
        qs = qs.filter(search_q(filters.q))
    if filters.role:
        # By id, not by a join on the slug: PostgreSQL then estimates how
        # many users hold the role from its statistics and plans well.
        role_id = Role.objects.filter(slug=filters.role).values_list("id", flat=True).first()
        if role_id is None:
            return qs.none()
        qs = qs.filter(Exists(UserRole.objects.filter(user_id=OuterRef("pk"), role_id=role_id)))
    if filters.organization:
        org_id = (
            Organization.objects.filter(slug=filters.organization)
            .values_list("id", flat=True)
            .first()
        )
        if org_id is None:
            return qs.none()
        qs = qs.filter(
            Exists(Membership.objects.filter(user_id=OuterRef("pk"), organization_id=org_id))
        )
    if filters.mfa == "on":
        qs = qs.filter(mfa_enabled_q())
    elif filters.mfa == "off":
        qs = qs.filter(~mfa_enabled_q())
    if filters.inactive_before:
        cutoff = timezone.make_aware(datetime.combine(filters.inactive_before, time.min))
        # Dormant: no sign-in since the date, including never.
        qs = qs.filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True))
    return qs


# --- keyset pagination -------------------------------------------------------


def _sort_parts(sort: str) -> tuple[str, bool]:
    return SORT_FIELDS[sort.lstrip("-")], sort.startswith("-")


def _encode_value(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _decode_value(field_name: str, raw):
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError("bad cursor value")
    if field_name in ("created_at", "last_login"):
        value = datetime.fromisoformat(raw)
        if timezone.is_naive(value):
            raise ValueError("naive datetime")
        return value
    return raw


def encode_cursor(direction: str, sort: str, value, pk, start: int | None = None) -> str:
    """`start`: how many rows come before the page the cursor leads to (for
    "26-50 of 398" without counting them again; only ever shown, so an
    edited one misleads nobody but its editor)."""
    parts = [direction, sort, _encode_value(value), str(pk)]
    if start is not None:
        parts.append(start)
    payload = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str):
    """(direction, value, pk) or None for a missing, malformed or stale
    cursor -- which simply shows the first page."""
    position = decode_position(cursor, sort)
    return position[:3] if position else None


def decode_position(cursor: str, sort: str):
    """(direction, value, pk, start or None), or None as `decode_cursor`."""
    if not cursor or len(cursor) > 500:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, cursor_sort, value, pk, *rest = json.loads(raw)
        if direction not in ("n", "p") or cursor_sort != sort or len(rest) > 1:
            return None
        start = rest[0] if rest else None
        if start is not None and (type(start) is not int or start < 0):
            start = None
        field_name, _ = _sort_parts(sort)
        return direction, _decode_value(field_name, value), uuid.UUID(str(pk)), start
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, KeyError):
        return None


NULLABLE_SORT_FIELDS = {"last_login"}


# Where a page's sort value and user id are read: the user row, or, for an
# organization's administrator by creation, the membership row's copy
# (`Membership.user_created_at`), so that the page and its cursor walk
# `rbac_membership_newest` (`user_list`).
BY_MEMBERSHIP = {"created_at": ("membership__user_created_at", "user_created_at")}


def _row_compare(qs, field_name: str, value, pk, op: str, *, by_membership: bool = False):
    """`(field, id) op (value, pk)` as one row-value comparison, which both
    PostgreSQL and SQLite answer from the (field, id) index; `by_membership`:
    on the membership row that `Actor.visible_members` joined (the user's
    creation time and id there)."""
    model, pk_field = User, User._meta.pk
    field = User._meta.get_field(field_name)
    if by_membership:
        # The join `visible_members` made: the query's one membership table,
        # named as the table (the filters' subqueries name theirs apart).
        model = Membership
        field = Membership._meta.get_field(BY_MEMBERSHIP[field_name][1])
        pk_field = Membership._meta.get_field("user")
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(field.column)
    pk_column = connection.ops.quote_name(pk_field.column)
    # Identifiers come from the model, values are bound parameters.
    return qs.extra(  # noqa: S610
        where=[f"({table}.{column}, {table}.{pk_column}) {op} (%s, %s)"],
        params=[
            field.get_db_prep_value(value, connection),
            User._meta.pk.get_db_prep_value(pk, connection),
        ],
    )


def _after(qs, field_name: str, desc: bool, value, pk, *, by_membership: bool = False):
    """Rows strictly after (value, pk) in the order `field desc/asc NULLS
    LAST, id desc/asc`."""
    if field_name not in NULLABLE_SORT_FIELDS:
        op = "<" if desc else ">"
        return _row_compare(qs, field_name, value, pk, op, by_membership=by_membership)
    beyond = "lt" if desc else "gt"
    if value is None:
        return qs.filter(Q(**{f"{field_name}__isnull": True, f"pk__{beyond}": pk}))
    return qs.filter(
        Q(**{f"{field_name}__{beyond}": value})
        | Q(**{field_name: value, f"pk__{beyond}": pk})
        | Q(**{f"{field_name}__isnull": True})
    )


def _before(qs, field_name: str, desc: bool, value, pk, *, by_membership: bool = False):
    """Rows strictly before (value, pk) in that same order."""
    if field_name not in NULLABLE_SORT_FIELDS:
        op = ">" if desc else "<"
        return _row_compare(qs, field_name, value, pk, op, by_membership=by_membership)
    ahead = "gt" if desc else "lt"
    if value is None:
        return qs.filter(
            Q(**{f"{field_name}__isnull": False})
            | Q(**{f"{field_name}__isnull": True, f"pk__{ahead}": pk})
        )
    return qs.filter(
        Q(**{f"{field_name}__{ahead}": value}) | Q(**{field_name: value, f"pk__{ahead}": pk})
    )


def _ordering(field_name: str, desc: bool, *, reverse: bool = False, by_membership: bool = False):
    if reverse:
        desc = not desc
    nulls = {}
    if field_name in NULLABLE_SORT_FIELDS:
        # NULL ("never signed in") sorts last; walking backwards, first.
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
    # The user's id: the membership's `user_id` too (the join makes them
    # one), so the membership's index gives this order.
    sort = BY_MEMBERSHIP[field_name][0] if by_membership else field_name
    expr = F(sort).desc(**nulls) if desc else F(sort).asc(**nulls)
    return [expr, "-pk" if desc else "pk"]


# Up to this many matches the list shows the exact number; beyond it, the
# planner's estimate ("about 1.2 million"): counting a million rows exactly
# would cost more than the rest of the page together.
EXACT_COUNT_LIMIT = 10_000


def page_offset(number, size: int) -> int:
    """Rows before page `number` (1-based, as typed in the URL: anything
    else is the first page). Numbered pages go no deeper than the exact
    count does; past it, Next and Previous walk by cursor."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        return 0
    if number < 1 or (number - 1) * size > EXACT_COUNT_LIMIT:
        return 0
    return (number - 1) * size


def user_list(
    filters: UserFilters, *, actor, cursor: str = "", page_number=None, relations: bool = True
) -> UserPage:
    """One page of users: roles and organizations prefetched and MFA marked
    (unless `relations` is False: the users list reads them with the
    guards' data, `rbac.selectors.holdings_values`), so the query count does
    not depend on the page size or how deep the page is. A cursor walks
    from a row (any depth, by index); a page number without a cursor skips
    that many rows (bounded by `page_offset`)."""
    field_name, desc = _sort_parts(filters.sort)
    members = as_actor(actor).visible_members() if field_name in BY_MEMBERSHIP else None
    by_membership = members is not None
    if by_membership:
        # An organization's administrator, by creation: its members in that
        # order from the organization's memberships (`rbac_membership_newest`),
        # about one index entry a row shown, instead of reading and sorting
        # every member (~1,100 rows, 6-7 ms at a million users).
        qs = _matching(members, filters)
    else:
        qs = user_filter_queryset(filters, actor=actor)
    matching = qs
    if relations:
        qs = qs.prefetch_related(
            Prefetch("roles", queryset=Role.objects.only("id", "slug", "name").order_by("name")),
            Prefetch(
                "organizations",
                queryset=as_actor(actor).visible_organizations().only("id", "slug", "name"),
            ),
        )
    position = decode_position(cursor, filters.sort)
    size = filters.size
    if position and position[0] == "p":
        _, value, pk, start = position
        rows = list(
            _before(qs, field_name, desc, value, pk, by_membership=by_membership).order_by(
                *_ordering(field_name, desc, reverse=True, by_membership=by_membership)
            )[: size + 1]
        )
        has_prev = len(rows) > size
        rows = list(reversed(rows[:size]))
        has_next = True
        if not has_prev:
            start = 0  # back at the beginning, whatever the cursor said
    else:
        offset = 0
        if position:
            _, value, pk, start = position
            qs = _after(qs, field_name, desc, value, pk, by_membership=by_membership)
        else:
            start = offset = page_offset(page_number, size)
        ordered = qs.order_by(*_ordering(field_name, desc, by_membership=by_membership))
        rows = list(ordered[offset : offset + size + 1])
        has_next = len(rows) > size
        rows = rows[:size]
        has_prev = position is not None or offset > 0
    if relations:
        _mark_mfa(rows)
    page = UserPage(users=rows, size=size, start=start)
    if position is None and not has_next and (rows or not start):
        page.total = start + len(rows)
    page.matching = matching
    if rows and has_next:
        last = rows[-1]
        after = start + len(rows) if start is not None else None
        page.next_cursor = encode_cursor(
            "n", filters.sort, getattr(last, field_name), last.pk, after
        )
    if rows and has_prev:
        first = rows[0]
        before = max(0, start - size) if start is not None else None
        page.prev_cursor = encode_cursor(
            "p", filters.sort, getattr(first, field_name), first.pk, before
        )
    return page


def _mark_mfa(users: list) -> None:
    """`has_mfa` for one page of users, by their ids. (As an EXISTS in the
    page query, PostgreSQL hashes the whole device table for every page.)"""
    if not users:
        return
    ids = [u.pk for u in users]
    with_mfa = set(
        TOTPDevice.objects.filter(user_id__in=ids, confirmed=True)
        .values_list("user_id", flat=True)
        .union(
            WebAuthnCredential.objects.filter(user_id__in=ids, confirmed=True).values_list(
                "user_id", flat=True
            )
        )
    )
    for user in users:
        user.has_mfa = user.pk in with_mfa
