"""How many users match the list's filters: exact while cheap, PostgreSQL's
estimate above (`user_count`); the users list reads the page itself
(`accounts.selectors.listing`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from django.core.cache import cache
from django.db import OperationalError, connections, transaction
from django.db.models import Exists, OuterRef, QuerySet
from psycopg.errors import QueryCanceled

import accounts.selectors.listing as listing
from accounts.models import User
from accounts.selectors.listing import UserFilters, UserPage, search_q, user_filter_queryset
from audit.figures import generation_keys, generations_in
from rbac.actor import as_actor
from rbac.models import Membership
from rbac.reach import EVERYONE

# Above this planner estimate (several times the limit) the exact count is
# not tried first: the estimate would be shown anyway. PostgreSQL's
# estimates are close for the list's filters and a search's common terms;
# a rare term is estimated low, and then counted exactly.
TRUST_ESTIMATE_ABOVE = 5 * listing.EXACT_COUNT_LIMIT
# The exact count's time budget (ms, PostgreSQL): "exact while cheap".
COUNT_BUDGET_MS = 20
# A search is counted only where its text matches at most this many users
# by the planner's statistics. Counting rechecks the email and name of
# every row the trigram indexes offer, whatever else the filters say:
# "lovelace" with status active and role viewer matched 4,000-15,000 users
# by estimate at a million but offered 60,000 rows to recheck (0.75 s to
# count them all), and the count ran into its budget on every page view
# (20 ms lost, then the estimate anyway). 2,000 rechecks take about 2 ms
# from shared buffers, 12 ms from the OS's cache.
SEARCH_RECHECKS_AT_MOST = 2_000
# How long an estimate the list shows is kept (`_estimate`).
ESTIMATE_SECONDS = 60
# How long an organization administrator's exact member count is kept at
# most (`_member_count`; a change makes it stale at once).
MEMBER_COUNT_SECONDS = 60


@dataclass(frozen=True)
class MatchCount:
    value: int
    exact: bool
    more_than: bool = False  # no estimate (SQLite): "more than 10,000 users"

    @property
    def text(self) -> str:
        """ "6 users", "about 45,000 users", "about 1.2 million users"."""
        if self.exact:
            return f"{self.value:,} user{'' if self.value == 1 else 's'}"
        if self.more_than:
            return f"more than {self.value:,} users"
        return f"about {_about(self.value)} users"

    @property
    def figure(self) -> str:
        """The number alone: "398", "about 45,000", "more than 10,000"."""
        if self.exact:
            return f"{self.value:,}"
        if self.more_than:
            return f"more than {self.value:,}"
        return f"about {_about(self.value)}"


def _about(value: int) -> str:
    if value >= 1_000_000:
        millions = round(value / 1_000_000, 1)
        return f"{millions:g} million"
    # Two significant figures: 12,345 -> 12,000.
    digits = len(str(value)) - 2
    return f"{round(value, -digits):,}"


def _planner_estimate(qs: QuerySet) -> int | None:
    """PostgreSQL's row estimate for `qs` (EXPLAIN, no rows read)."""

    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    return _explained_rows(connection, *qs.values("pk").query.sql_with_params())


def _explained_rows(connection, sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _estimate(qs: QuerySet, filters: UserFilters, actor) -> tuple[int | None, bool]:
    """PostgreSQL's estimate of how many users `qs` holds (None elsewhere),
    and whether the list shows it without counting: far above the exact
    count's limit (TRUST_ESTIMATE_ABOVE), or a search whose exact count
    would recheck too many rows (`_search_reads_many`). An estimate shown
    is kept ESTIMATE_SECONDS under the filters and the actor's reach
    (`_estimate_key`), so the next view of the same list compiles and
    EXPLAINs nothing (a search with filters: ~2.3 ms of ~2.7 at a million
    users). It is shown as "about N" anyway, which a minute's writes do
    not make wrong (ANALYZE moves it no faster). One that is not shown is
    not kept: the exact count that follows must see every write."""
    if connections[qs.db].vendor != "postgresql":
        return None, False
    key = _estimate_key(filters, actor)
    kept = cache.get(key)
    if kept is not None:
        return kept, True
    estimate = _planner_estimate(qs)
    shown = estimate > TRUST_ESTIMATE_ABOVE or bool(
        filters.q and _search_reads_many(filters.q, estimate)
    )
    if shown:
        cache.set(key, estimate, ESTIMATE_SECONDS)
    return estimate, shown


def _estimate_key(filters: UserFilters, actor) -> str:
    """Whose estimate this is: every filter (not the sort or the page
    size, which do not change how many match) and the set the actor sees
    (`Actor.reach`: everyone, nobody, or the organizations' ids; with the
    actor's own id for any but everyone, as `visible_users` adds the actor
    to its organizations' members). Nobody reads a figure counted over
    users they do not see."""
    actor = as_actor(actor)
    reach = actor.reach
    counted = {
        name: value for name, value in asdict(filters).items() if name not in ("sort", "size")
    }
    parts = [reach, "" if reach == EVERYONE else str(actor.pk), counted]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return "users:estimate:v3:" + digest


def _search_reads_many(text: str, estimate: int) -> bool:
    """Whether counting a search exactly would recheck more than
    SEARCH_RECHECKS_AT_MOST rows: the users whose email or name contain
    `text`, by the planner, before any other filter. Every match is one of
    them, so an `estimate` of the matches above the bar says so without
    asking again."""
    if estimate > SEARCH_RECHECKS_AT_MOST:
        return True
    rechecks = _planner_estimate(User.objects.filter(search_q(text)).order_by())
    return rechecks is not None and rechecks > SEARCH_RECHECKS_AT_MOST


def _count_within_budget(qs: QuerySet) -> int | None:
    """Up to listing.EXACT_COUNT_LIMIT + 1 matching rows counted, or None when that
    takes longer than COUNT_BUDGET_MS (PostgreSQL cancels it: a search
    plus filters that match ~10,000 of a million users took over a second
    to count, many times the page). SQLite counts without a budget."""
    connection = connections[qs.db]
    limited = qs[: listing.EXACT_COUNT_LIMIT + 1]
    if connection.vendor != "postgresql":
        return limited.count()
    nested = connection.in_atomic_block
    try:
        with transaction.atomic(using=qs.db):
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {int(COUNT_BUDGET_MS)}")
            counted = limited.count()
            if nested:  # the budget ends here, not with the caller's transaction
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
            return counted
    except OperationalError as exc:
        if not isinstance(exc.__cause__, QueryCanceled):
            raise
        return None


def _members_not_deleted(filters: UserFilters, actor) -> QuerySet | None:
    """What an organization administrator's unfiltered list counts (its
    organizations' members, itself among them -- `Actor.reach_organization_ids`
    -- that are not deleted), as the organizations' memberships whose user
    is not among the deleted (`accounts_user_deleted_ids`): index entries
    only, no user row read (2.5-4.5 ms for 1,100 members read as users,
    ~0.6-0.9 ms this way). None for anyone else, or any filter."""
    organization_ids = as_actor(actor).reach_organization_ids
    if not organization_ids or filters.is_filtered:
        return None
    deleted = User.objects.filter(pk=OuterRef("user_id"), deleted_at__isnull=False)
    members = Membership.objects.filter(organization_id__in=organization_ids).exclude(
        Exists(deleted)
    )
    if len(organization_ids) > 1:  # a member of two of them is one user
        members = members.values("user_id").distinct()
    return members


def _member_count(members: QuerySet, actor) -> MatchCount:
    """How many users an organization administrator's unfiltered list
    holds (`members`: `_members_not_deleted`). Exact up to the limit: at
    most the limit + 1 index entries, beside the index of the deleted
    users' ids, so no estimate first and no time budget (which costs a
    transaction and two SETs of its own). An exact count is kept under the
    "members" figures' generation (`audit.figures`: every committed
    membership change, user deletion or restoration bumps it) and the
    actor's reach, so a view after none of those reads one cache entry
    instead of counting again (~3 ms of ~1,000 index entries at a million
    users, each view); MEMBER_COUNT_SECONDS bounds a bump the cache missed."""
    keys = generation_keys("members")
    kept_key = "users:members:v1:" + hashlib.sha256(as_actor(actor).reach.encode()).hexdigest()
    found = cache.get_many([*keys.values(), kept_key])
    generation = generations_in(found, keys)["members"]
    kept = found.get(kept_key)
    if kept is not None and kept[0] == generation:
        return MatchCount(kept[1], exact=True)
    counted = members.order_by()[: listing.EXACT_COUNT_LIMIT + 1].count()
    if counted <= listing.EXACT_COUNT_LIMIT:
        cache.set(kept_key, (generation, counted), MEMBER_COUNT_SECONDS)
        return MatchCount(counted, exact=True)
    estimate = _planner_estimate(members.order_by())
    if estimate is None:
        return MatchCount(listing.EXACT_COUNT_LIMIT, exact=False, more_than=True)
    return MatchCount(max(estimate, listing.EXACT_COUNT_LIMIT + 1), exact=False)


def user_count(filters: UserFilters, *, actor, page: UserPage | None = None) -> MatchCount:
    """How many users match: exact and without a query when `page` (what
    `user_list` gave for these same filters) holds the last match; else
    the planner's estimate when it is far above listing.EXACT_COUNT_LIMIT, else an
    exact count that stops at the limit (so it reads at most that many
    rows), then the estimate, never below the limit it already passed.
    An organization administrator's unfiltered list is counted from the
    memberships (`_members_not_deleted`) first, the estimate only past the
    limit."""
    if page is not None and page.total is not None:
        return MatchCount(page.total, exact=True)
    members = _members_not_deleted(filters, actor)
    if members is not None:
        return _member_count(members, actor)
    if page is not None and page.matching is not None:
        qs = page.matching.order_by()
    else:
        qs = user_filter_queryset(filters, actor=actor).order_by()
    # Far above the limit by the planner's statistics, or a search that
    # would recheck too many rows to count them: say so without reading
    # 10,001 rows first -- most of the first page's database time at
    # 100,000 users, and 10,001 trigram rechecks for a common search term
    # at a million ("lovelace": ~470 ms cold, more than the page).
    estimate, shown = _estimate(qs, filters, actor)
    if shown:
        return MatchCount(estimate, exact=False)
    counted = _count_within_budget(qs)
    if counted is None:  # not cheap after all: the estimate
        if estimate is None:
            return MatchCount(listing.EXACT_COUNT_LIMIT, exact=False, more_than=True)
        return MatchCount(estimate, exact=False)
    if counted <= listing.EXACT_COUNT_LIMIT:
        return MatchCount(counted, exact=True)
    if estimate is None:
        return MatchCount(listing.EXACT_COUNT_LIMIT, exact=False, more_than=True)
    return MatchCount(max(estimate, listing.EXACT_COUNT_LIMIT + 1), exact=False)
