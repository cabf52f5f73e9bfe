"""How many queries the busiest pages run (issue 29): pinned, and the same
for 10 rows as for 50, for the owner and for an organization's
administrator (whose every row's guards asked which organizations the
row's user belongs to: 241 queries a page before)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.figures import figures_changed
from audit.models import AuditEvent
from rbac.models import Organization
from tests.conftest import make_user
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db

# The session, the user, the second factor; the page; the EXPLAIN and the count with its time budget
# (SET LOCAL; inside a test's transaction also a savepoint, its release
# and the reset: 3 more than in production); the rows' memberships, roles,
# factors and recent failed sign-ins, read once for the guards and the
# columns, in one query (`rbac.selectors.holdings_values`; the page's own prefetch of
# roles and organizations went: 18 before, then 16 with the memberships,
# the roles, the factors and the sign-in locks read apart). The locks
# themselves only when someone on the page failed to sign in lately. The
# filter's roles and organizations come from the cache once one page read
# them (`accounts.views.filter_choices`): 2 more on a cold cache.
LIST = 11
FILTER_CHOICES = 2
# Plus the administrator's own grants and memberships (the actor's, once);
# its organization's members are counted in one query from the
# memberships' index (no EXPLAIN, no time budget): 5 fewer.
LIST_SCOPED = LIST + 2 - 5
# The session, the user, the second factor; the subject; their
# permissions (roles, membership in the same query); sign-in locks; status
# changes and failed sign-ins (one UNION ALL); the names in those; open
# sessions; factors (one UNION ALL). Was 20: the subject's permissions were
# read three times and the lock twice.
USER_PAGE = 9
# The session, the user, the second factor; the actions; the page; a
# second read of the events (came with the sealer on main); the
# organizations the filter offers (events record their organization).
AUDIT_PAGE = 7
# The same three; the pending and the failed emails (each count bounded,
# so a backlog costs no more); the latest events.
OVERVIEW = 6


def _own_count(*, scoped: bool = False) -> int:
    """The queries a page that holds the last match saves, being its own
    count: on PostgreSQL the EXPLAIN and the count with its budget (6
    inside a test's transaction), on SQLite the count; an organization
    administrator's count of its members is one query anywhere."""
    return 6 if connection.vendor == "postgresql" and not scoped else 1


@pytest.fixture
def org(owner):
    """An organization with its administrator and members in it, some also
    in a second organization, with roles and sessions."""
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    ada = make_user("ada@acme.example", name="Ada Admin")
    join(ada, acme, "org-admin")
    return {"acme": acme, "globex": globex, "ada": ada}


def _members(org, n, start=0):
    for i in range(start, start + n):
        user = make_user(f"m{i:03d}@acme.example", name=f"Member {i}")
        join(user, org["acme"], "member")
        if i % 5 == 0:
            join(user, org["globex"], "member")


def _warm(client):
    """One list page, so the filter's choices are cached (as on any
    server after its first list page)."""
    assert client.get(reverse("users:list")).status_code == 200
    return client


def _count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_the_users_list_runs_as_many_queries_for_50_rows_as_for_10(client_for, owner, org):
    _members(org, 10)
    client = _warm(client_for(owner))
    few = _count(client, reverse("users:list"), {"size": 50})
    _members(org, 45, start=10)
    many = _count(client, reverse("users:list"), {"size": 50})
    assert few + _own_count() == many <= LIST


def test_a_filtered_search_looks_up_its_role_and_organization_once(client_for, owner, org):
    """The count reads the page's own filtered query: the role and the
    organization named in the filters are looked up once, not again for
    the count (more matches than a page, so the count is not the page's)."""
    _members(org, 30)
    params = {"q": "member", "role": "member", "organization": "acme", "size": 25}
    client = client_for(owner)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("users:list"), params)
    assert response.status_code == 200 and len(response.context["rows"]) == 25
    assert response.context["match_count"].text == "30 users"
    sqls = [q["sql"] for q in ctx.captured_queries]
    role = [sql for sql in sqls if 'WHERE "rbac_role"."slug" =' in sql]
    organization = [sql for sql in sqls if 'WHERE "rbac_organization"."slug" =' in sql]
    assert len(role) == 1 and len(organization) == 1, (role, organization)


def test_the_filters_roles_and_organizations_are_read_once_then_cached(client_for, owner, org):
    _members(org, 10)
    client = client_for(owner)
    cold = _count(client, reverse("users:list"), {"size": 50})
    warm = _count(client, reverse("users:list"), {"size": 50})
    assert cold == warm + FILTER_CHOICES
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("users:list"), {"size": 50})
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert not [sql for sql in sqls if sql.startswith('SELECT "rbac_role"."slug"')], sqls
    assert not [sql for sql in sqls if 'FROM "rbac_organization"' in sql], sqls


def test_a_large_estimate_is_kept_a_small_one_asked_each_time(owner, monkeypatch):
    """A list whose estimate says "about N" asks PostgreSQL once a minute
    (`counting._estimate`); one small enough to be counted exactly
    is asked again every time, before its exact count."""
    from accounts.selectors import counting, listing

    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's EXPLAIN")

    def explains() -> int:
        with CaptureQueriesContext(connection) as ctx:
            counting.user_count(listing.UserFilters(), actor=owner)
        return sum(q["sql"].startswith("EXPLAIN") for q in ctx.captured_queries)

    assert explains() == explains() == 1  # a handful of users: small, asked each time
    monkeypatch.setattr(counting, "TRUST_ESTIMATE_ABOVE", 0)  # every estimate "large"
    assert explains() == 1
    assert explains() == 0
    assert counting.user_count(listing.UserFilters(), actor=owner).exact is False


def test_an_organization_administrators_list_runs_no_query_per_row(client_for, org):
    _members(org, 10)
    client = _warm(client_for(org["ada"]))
    few = _count(client, reverse("users:list"), {"size": 50})
    _members(org, 45, start=10)
    response = client.get(reverse("users:list"), {"size": 50})
    assert len(response.context["rows"]) == 50
    # Some rows offer actions (members of Acme only), some none (also in
    # Globex, where Ada holds nothing): the guards ran, from primed data.
    offered = {row.email: [a.label for a in row.actions] for row in response.context["rows"]}
    assert offered["m011@acme.example"]
    assert offered["m010@acme.example"] == []
    # The members came in through the ORM, not a service: mark them as a
    # service's commit would, or the count kept above stands.
    figures_changed({"rbac.membership.added"})
    many = _count(client, reverse("users:list"), {"size": 50})
    assert few + _own_count(scoped=True) == many <= LIST_SCOPED


def test_locked_users_on_the_list_cost_no_query_each(client_for, owner, org):
    """Which users failed to sign in lately comes with the rows' holdings;
    their locks are read in one more query, with the page's permissions
    (whether a lock is per address depends on them), not one query each."""
    from tests.conftest import lock_out

    def lock_out_member(i):
        lock_out(f"m{i:03d}@acme.example")

    _members(org, 10)
    client = _warm(client_for(owner))
    unlocked = _count(client, reverse("users:list"), {"size": 50})
    lock_out_member(0)
    one = _count(client, reverse("users:list"), {"size": 50})
    for i in range(1, 5):
        lock_out_member(i)
    response = client.get(reverse("users:list"), {"size": 50})
    locked = [row for row in response.context["rows"] if "Locked" in row.status_notes]
    assert len(locked) == 5
    assert _count(client, reverse("users:list"), {"size": 50}) == one == unlocked + 1


def test_the_user_page_audit_page_and_overview_are_pinned(client_for, owner, org, admin_user):
    _members(org, 3)
    AuditEvent.objects.bulk_create([AuditEvent(action="tests.bulk") for _ in range(60)])
    client = client_for(owner)
    subject = org["ada"]
    # SQLite cannot limit each part of a UNION ALL: the status section's
    # two reads are two queries there.
    union = connection.features.supports_slicing_ordering_in_compound
    assert _count(client, reverse("users:detail", args=[subject.pk])) <= USER_PAGE + (not union)
    assert _count(client, reverse("audit:list")) <= AUDIT_PAGE
    client.get(reverse("overview"))  # the figures are cached after the first visit
    assert _count(client, reverse("overview")) <= OVERVIEW


def test_a_count_over_its_budget_gives_way_to_the_estimate_and_leaves_no_timeout_behind(
    owner, monkeypatch
):
    from accounts.models import User
    from accounts.selectors import counting, listing

    if connection.vendor != "postgresql":
        pytest.skip("the budget is PostgreSQL's statement_timeout")

    def show():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    before = show()
    cheap = User.objects.all()
    assert counting._count_within_budget(cheap) == User.objects.count()
    assert show() == before
    # Every row takes 50 ms to read: over the 20 ms budget, cancelled.
    slow = User.objects.extra(where=["pg_sleep(0.05) IS NOT NULL"])  # noqa: S610
    assert counting._count_within_budget(slow) is None
    assert show() == before
    assert User.objects.filter(pk=owner.pk).exists()  # the connection is still usable
    # Through the list's count: the estimate, said as one.
    monkeypatch.setattr(counting, "_count_within_budget", lambda qs: None)
    counted = counting.user_count(listing.UserFilters(), actor=owner)
    assert counted.exact is False


def test_a_search_shown_as_an_estimate_is_asked_once_a_minute(owner, monkeypatch):
    """A search whose exact count would recheck too many rows shows the
    planner's estimate (`counting._search_reads_many`): kept like a large
    one, so the next view of it neither compiles nor EXPLAINs; another
    search, or the same one with a filter more, is asked anew."""
    from accounts.selectors import counting, listing

    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's EXPLAIN")

    def explains(**filters) -> int:
        with CaptureQueriesContext(connection) as ctx:
            count = counting.user_count(listing.UserFilters(**filters), actor=owner)
        assert count.exact is False
        return sum(q["sql"].startswith("EXPLAIN") for q in ctx.captured_queries)

    monkeypatch.setattr(counting, "SEARCH_RECHECKS_AT_MOST", -1)  # every search "reads many"
    assert explains(q="ada") == 1  # the matches: above the bar, no second EXPLAIN
    assert explains(q="ada") == 0
    assert explains(q="ada", status="active") == 1
    assert explains(q="bob") == 1


def test_a_kept_estimate_is_never_read_by_someone_who_sees_other_users(owner, org, monkeypatch):
    """The owner's kept figure for a search is not what an organization's
    administrator is shown for the same search: the key holds the set each
    of them sees (`counting._estimate_key`)."""
    from django.core.cache import cache

    from accounts.selectors import counting, listing

    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's EXPLAIN")
    monkeypatch.setattr(counting, "TRUST_ESTIMATE_ABOVE", -1)  # every estimate kept
    filters = listing.UserFilters(q="m")
    cache.set(counting._estimate_key(filters, owner), 987_654, 60)
    assert counting.user_count(filters, actor=owner).value == 987_654
    assert counting.user_count(filters, actor=org["ada"]).value != 987_654
    # And the administrator's own is kept under its own key.
    assert cache.get(counting._estimate_key(filters, org["ada"])) is not None


def test_every_filter_but_the_sort_and_the_page_size_is_in_the_estimates_key(owner):
    from dataclasses import fields, replace
    from datetime import date

    from accounts.selectors import counting, listing

    plain = listing.UserFilters()
    changed = {
        "q": "ada",
        "status": "banned",
        "role": "viewer",
        "organization": "acme",
        "mfa": "on",
        "inactive_before": date(2026, 1, 1),
    }
    assert set(changed) == {f.name for f in fields(plain)} - {"sort", "size"}
    key = counting._estimate_key(plain, owner)
    for name, value in changed.items():
        assert counting._estimate_key(replace(plain, **{name: value}), owner) != key, name
    assert counting._estimate_key(replace(plain, sort="email", size=100), owner) == key


def test_an_organization_administrators_member_count_is_kept_until_a_membership_changes(
    client_for, owner, org, django_capture_on_commit_callbacks
):
    """The count of an organization administrator's unfiltered list is
    kept under the "members" figures' generation (`counting._member_count`):
    a second view does not count again; a member added, deleted or removed
    through the services is in the very next view's figure, exact."""
    from accounts.services.users import user_delete
    from rbac.services.organizations import member_add, member_remove

    _members(org, 55)
    client = client_for(org["ada"])

    def shown() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("users:list"), {"size": 50})
        counts = [q for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
        return response.context["match_count"].text, len(counts)

    assert shown() == ("56 users", 1)  # Ada and her 55 members, counted
    assert shown() == ("56 users", 0)  # kept
    newcomer = make_user("new@acme.example", name="New Comer")
    with django_capture_on_commit_callbacks(execute=True):
        member_add(actor=owner, organization=org["acme"], user=newcomer)
    assert shown() == ("57 users", 1)
    with django_capture_on_commit_callbacks(execute=True):
        user_delete(actor=owner, user=newcomer)
    assert shown() == ("56 users", 1)
    leaver = org["acme"].members.get(email="m001@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        member_remove(actor=owner, organization=org["acme"], user=leaver)
    assert shown() == ("55 users", 1)
    assert shown() == ("55 users", 0)


def test_a_kept_member_count_is_the_organizations_own(client_for, owner, org):
    """Two administrators of different organizations never read each
    other's kept figure: the key is the set each one sees."""
    _members(org, 55)
    globex_admin = make_user("gil@globex.example", name="Gil Admin")
    join(globex_admin, org["globex"], "org-admin")
    for i in range(30):
        join(make_user(f"g{i:03d}@globex.example", name=f"Globex {i}"), org["globex"], "member")
    acme = client_for(org["ada"]).get(reverse("users:list"), {"size": 25})
    globex = client_for(globex_admin).get(reverse("users:list"), {"size": 25})
    # Neither page holds its last member: both figures are counts.
    assert acme.context["page"].next_cursor and globex.context["page"].next_cursor
    assert acme.context["match_count"].text == "56 users"
    # Every fifth Acme member is in Globex too (m000, m005, ... m050: 11),
    # its own 30, and Gil.
    assert globex.context["match_count"].text == "42 users"


def test_an_organization_administrators_overview_counts_a_new_member_at_once(
    client_for, owner, org, django_capture_on_commit_callbacks
):
    """The overview's user figures for an organization administrator (the
    status counts and the new users per week) are cached per reach; a
    member added through the service is counted on the next view (the
    "members" generation), not a cache lifetime later."""
    from rbac.services.organizations import member_add

    _members(org, 3)
    client = client_for(org["ada"])
    before = client.get(reverse("overview")).context
    assert before["total_users"] == 4 and before["signups"]["total"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        member_add(actor=owner, organization=org["acme"], user=make_user("n@acme.example"))
    after = client.get(reverse("overview")).context
    assert after["total_users"] == 5 and after["signups"]["total"] == 5
