"""An organization administrator's users list by creation is read from the
organization's memberships (`Membership.user_created_at`, the index
`rbac_membership_newest`) and counted from them (`accounts_user_deleted_ids`)
(issues 24, 29): the same users, in the same order, page by page and
cursor by cursor, and the same count, as the reach (`visible_users`) says."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.selectors import UserFilters, user_count, user_list
from rbac import services
from rbac.actor import Actor
from rbac.models import Membership, Organization
from tests.conftest import make_user
from tests.orgs.conftest import join

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(world):
    """Acme with 30 more members: created at 12 distinct times (ties broken
    by id), every 7th deleted, every 4th also in Globex; and Globex-only
    users and users in no organization created among them."""
    base = timezone.now() - dt.timedelta(days=100)
    for i in range(30):
        user = make_user(f"c{i:02d}@acme.example", created_at=base + dt.timedelta(hours=i % 12))
        join(user, world["acme"], "member")
        if i % 4 == 0:
            join(user, world["globex"], "member")
        if i % 7 == 0:
            User.objects.filter(pk=user.pk).update(deleted_at=timezone.now())
    for i in range(6):
        outsider = make_user(f"o{i}@globex.example", created_at=base + dt.timedelta(hours=i))
        join(outsider, world["globex"], "member")
        make_user(f"n{i}@nowhere.example", created_at=base + dt.timedelta(hours=i))
    return world


def _reach(actor, **filters):
    """What the list must show: the reach as `visible_users` says it, with
    the list's filters, in the sort's order (the user's own columns)."""
    sort = filters.get("sort", "-created")
    qs = actor.visible_users().filter(deleted_at__isnull=filters.get("status") != "deleted")
    order = ["-created_at", "-id"] if sort.startswith("-") else ["created_at", "id"]
    return list(qs.order_by(*order).values_list("pk", flat=True))


def _walk(actor, filters):
    """Every page forward by cursor, then back from the last page."""
    forward, pages = [], []
    page = user_list(filters, actor=actor)
    pages.append(page)
    forward += [u.pk for u in page.users]
    while page.next_cursor:
        page = user_list(filters, actor=actor, cursor=page.next_cursor)
        pages.append(page)
        forward += [u.pk for u in page.users]
    backward = [u.pk for u in page.users]
    while page.prev_cursor:
        page = user_list(filters, actor=actor, cursor=page.prev_cursor)
        backward = [u.pk for u in page.users] + backward
    return forward, backward, pages


@pytest.mark.parametrize("sort", ["-created", "created"])
@pytest.mark.parametrize("status", ["", "deleted"])
def test_pages_and_cursors_walk_the_reach_in_order_both_ways(crowd, sort, status):
    actor = Actor.for_session(crowd["ada"], "s")
    assert actor.sole_organization_id == crowd["acme"].pk
    filters = UserFilters(sort=sort, size=25, status=status)
    expected = _reach(actor, sort=sort, status=status)
    assert len(expected) > (25 if not status else 0)
    forward, backward, pages = _walk(actor, filters)
    assert forward == expected
    assert backward == expected
    # A page by number skips as many rows.
    if len(expected) > 25:
        second = user_list(filters, actor=actor, page_number=2)
        assert [u.pk for u in second.users] == expected[25:50]
    assert user_count(filters, actor=actor, page=pages[0]).value == len(expected)


def test_the_page_is_read_in_the_memberships_order(crowd):
    """The page query orders by the membership's copy of the creation time
    (the index `rbac_membership_newest` answers it), not by the users'."""
    actor = Actor.for_session(crowd["ada"], "s")
    with CaptureQueriesContext(connection) as ctx:
        user_list(UserFilters(size=25), actor=actor)
    page_sql = next(q["sql"] for q in ctx.captured_queries if "LIMIT 26" in q["sql"])
    assert 'ORDER BY "rbac_membership"."user_created_at" DESC' in page_sql
    # Other sorts, and actors whose reach is not one organization, read the
    # users' own columns.
    with CaptureQueriesContext(connection) as ctx:
        user_list(UserFilters(size=25, sort="email"), actor=actor)
        user_list(UserFilters(size=25), actor=Actor.for_session(crowd["owner"], "s"))
    assert not any("user_created_at" in q["sql"] for q in ctx.captured_queries)


def test_the_count_reads_the_memberships_and_matches_the_reach(crowd, client_for):
    actor = Actor.for_session(crowd["ada"], "s")
    expected = len(_reach(actor))
    with CaptureQueriesContext(connection) as ctx:
        counted = user_count(UserFilters(size=25), actor=actor)
    assert counted.exact and counted.value == expected
    (count_sql,) = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    # Memberships, and no user row: only the deleted users' ids (an index).
    assert 'FROM (SELECT "rbac_membership"' in count_sql and "NOT (EXISTS" in count_sql
    # Filtered, it is counted over the users as before.
    deleted = user_count(UserFilters(size=25, status="deleted"), actor=actor)
    assert deleted.value == len(_reach(actor, status="deleted")) > 0
    # And the page says so.
    response = client_for(crowd["ada"]).get(reverse("users:list"), {"size": 25})
    assert f"of {expected}" in response.content.decode()


def test_past_the_limit_the_members_count_is_the_estimate(crowd, monkeypatch):
    from accounts.selectors import listing

    actor = Actor.for_session(crowd["ada"], "s")
    monkeypatch.setattr(listing, "EXACT_COUNT_LIMIT", 5)
    counted = user_count(UserFilters(size=25), actor=actor)
    assert not counted.exact
    assert counted.value >= 6 if not counted.more_than else counted.value == 5


def test_only_an_actor_acting_as_itself_in_one_organization_has_one(crowd, owner):
    ada, bo = crowd["ada"], crowd["both"]
    assert Actor.for_session(owner, "s").sole_organization_id is None  # everyone
    # No grant in any organization: everyone, as before organizations.
    assert Actor.for_session(crowd["loner"], "s").reach_organization_ids is None
    # An administrator of two organizations sees both (as before), and is
    # walked as before, but counted from the memberships, each user once.
    join(ada, crowd["globex"], "org-admin")
    two = Actor.for_session(ada, "s")
    assert two.sole_organization_id is None and two.visible_members() is None
    assert two.reach_organization_ids == {crowd["acme"].pk, crowd["globex"].pk}
    assert set(two.visible_users()) >= {crowd["gil"], bo}
    with CaptureQueriesContext(connection) as ctx:
        counted = user_count(UserFilters(size=25), actor=two)
    assert counted.exact and counted.value == len(_reach(two))
    distinct = 'FROM (SELECT DISTINCT "rbac_membership"'
    assert [q for q in ctx.captured_queries if distinct in q["sql"]]
    # The owner viewing as Gil sees Globex's members and itself, which is
    # no member there: neither walked nor counted from the memberships.
    later = timezone.now() + dt.timedelta(hours=1)
    viewing = Actor.for_impersonation(owner, crowd["gil"], "s", later)
    assert viewing.reach_organization_ids is None and viewing.sole_organization_id is None
    assert owner in set(viewing.visible_users())
    expected = _reach(viewing)
    assert owner.pk in expected and len(expected) <= 25
    page = user_list(UserFilters(size=25), actor=viewing)
    assert [u.pk for u in page.users] == expected
    assert user_count(UserFilters(size=25), actor=viewing).value == len(expected)


def test_the_members_join_is_the_reach(crowd):
    actor = Actor.for_session(crowd["ada"], "s")
    joined = list(actor.visible_members().values_list("pk", flat=True))
    assert len(joined) == len(set(joined))  # each user once
    assert set(joined) == set(actor.visible_users().values_list("pk", flat=True))
    assert crowd["ada"].pk in joined


def test_every_way_of_joining_copies_the_users_creation_time(world, owner):
    old = make_user("old@example.com", created_at=timezone.now() - dt.timedelta(days=400))
    services.member_add(actor=owner, organization=world["acme"], user=old)
    membership = Membership.objects.get(user=old, organization=world["acme"])
    assert membership.user_created_at == old.created_at
    Membership.objects.get_or_create(user=old, organization=world["globex"])
    assert Membership.objects.get(user=old, organization=world["globex"]).user_created_at == (
        old.created_at
    )
    # Made without it (bulk_create skips `save`), a membership fails loudly
    # instead of sorting out of place.
    other = Organization.objects.create(slug="initech", name="Initech")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.bulk_create([Membership(user=old, organization=other)])
