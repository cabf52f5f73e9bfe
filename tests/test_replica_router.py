"""Read-only pages read from the replica, writes go to the primary
(`core.replica`). Two database aliases on the one PostgreSQL server: the
test settings add `replica` as a mirror of `default`, a second connection
to the same database, as a streaming replica would be."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from accounts.models import User
from core.replica import REPLICA, ReplicaRouter, replica_reads

# The test settings add the alias on PostgreSQL only; on SQLite the tests
# skip (require_postgres) instead of failing to set up a missing alias.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(
        transaction=True,
        databases=["default", REPLICA] if REPLICA in settings.DATABASES else ["default"],
    ),
]


@pytest.fixture(autouse=True)
def _two_aliases(require_postgres):
    assert REPLICA in connections.settings, "handover.settings_test adds the replica alias"


def _sql(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


def _both():
    return (
        CaptureQueriesContext(connections["default"]),
        CaptureQueriesContext(connections[REPLICA]),
    )


@override_settings(DATABASE_REPLICA_READS=True)
def test_the_users_list_reads_its_rows_from_the_replica_and_who_you_are_from_the_primary(
    client_for, admin_user, member
):
    client = client_for(admin_user)
    primary, replica = _both()
    with primary, replica:
        response = client.get(reverse("users:list"))
    assert response.status_code == 200
    assert member.email in response.content.decode()
    page_reads = [s for s in _sql(replica) if 'FROM "accounts_user"' in s]
    assert page_reads, _sql(replica)
    # The session, the signed-in user and the actor's own permissions come
    # from the primary (read before the view runs), never from a copy.
    assert any("django_session" in s for s in _sql(primary))
    assert not any("django_session" in s for s in _sql(replica))
    assert connections[REPLICA].alias == REPLICA
    assert connections[REPLICA].connection is not connections["default"].connection


@override_settings(DATABASE_REPLICA_READS=True)
def test_within_a_read_only_page_a_write_goes_to_the_primary(member):
    @replica_reads
    def page(request):
        count = User.objects.filter(pk=member.pk).count()
        User.objects.filter(pk=member.pk).update(name="Renamed")
        return count

    primary, replica = _both()
    with primary, replica:
        assert page(None) == 1
    assert any(s.startswith("UPDATE") for s in _sql(primary))
    assert not any(s.startswith("UPDATE") for s in _sql(replica))
    assert any("COUNT(*)" in s for s in _sql(replica))
    # The write is on the primary; the replica (the same server here) sees it.
    assert User.objects.using(REPLICA).get(pk=member.pk).name == "Renamed"


@override_settings(DATABASE_REPLICA_READS=True)
def test_reads_inside_a_transaction_and_outside_read_only_pages_stay_on_the_primary(member):
    router = ReplicaRouter()

    @replica_reads
    def page(request):
        outside = router.db_for_read(User)
        with transaction.atomic():
            inside = router.db_for_read(User)
        return outside, inside

    assert page(None) == (REPLICA, None)  # None: the default database
    assert router.db_for_read(User) is None
    assert router.db_for_write(User) == "default"
    assert router.allow_migrate(REPLICA, "accounts") is False


def test_without_the_setting_a_read_only_page_reads_the_primary(client_for, admin_user):
    client = client_for(admin_user)
    primary, replica = _both()
    with primary, replica:
        assert client.get(reverse("users:list")).status_code == 200
    assert _sql(replica) == []
    assert any('FROM "accounts_user"' in s for s in _sql(primary))
