"""core.compiled: a parameterless queryset's SQL written once by the ORM,
its rows as model instances like the queryset's own."""

from __future__ import annotations

import pytest

from core.compiled import Compiled
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def _endpoint(url, *, enabled=True, event_types=()):
    return WebhookEndpoint.objects.create(
        url=url, enabled=enabled, event_types=list(event_types), secret="whsec_test"
    )


def test_the_rows_are_the_querysets_own_fields_converted():
    _endpoint("https://a.example/hook", event_types=["accounts.user.banned"])
    _endpoint("https://b.example/hook", enabled=False)
    _endpoint("https://c.example/hook")
    enabled = Compiled(lambda: WebhookEndpoint.objects.filter(enabled=True))
    rows = list(enabled())
    expected = list(WebhookEndpoint.objects.filter(enabled=True))
    assert [r.pk for r in rows] == [e.pk for e in expected]  # the model's ordering too
    assert rows[0].event_types == ["accounts.user.banned"]  # JSON, not text
    assert all(isinstance(r, WebhookEndpoint) for r in rows)


def test_the_queryset_is_built_once_and_sees_later_rows():
    built = []

    def build():
        built.append(1)
        return WebhookEndpoint.objects.filter(enabled=True)

    enabled = Compiled(build)
    assert list(enabled()) == []
    _endpoint("https://a.example/hook")
    assert len(list(enabled())) == 1
    assert len(built) == 1


def test_a_queryset_with_parameters_is_refused():
    by_url = Compiled(lambda: WebhookEndpoint.objects.filter(url="https://a.example/hook"))
    with pytest.raises(ValueError):
        by_url()


def _count_compiles(monkeypatch, compiler_class) -> list:
    """A list that grows by one each time `compiler_class` writes SQL."""
    compiled = []
    as_sql = compiler_class.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(1)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(compiler_class, "as_sql", counting)
    return compiled


# --- Reused: a query with values, its text compiled once per shape -----------


def _by_urls(urls, since):
    return (
        WebhookEndpoint.objects.filter(url__in=urls, created_at__gte=since)
        .order_by("url")
        .values_list("url", "event_types")
    )


def _since():
    from django.utils import timezone

    return timezone.now() - timezone.timedelta(days=1)


def test_reused_answers_as_the_queryset_for_each_calls_values(django_assert_num_queries):
    from core.compiled import Reused

    for url in ("https://a.example/hook", "https://b.example/hook", "https://c.example/hook"):
        _endpoint(url, event_types=["accounts.user.banned"])
    by_urls = Reused(_by_urls)
    for urls in (
        ["https://a.example/hook", "https://b.example/hook"],
        ["https://c.example/hook", "https://a.example/hook"],  # same shape, other values
        ["https://b.example/hook"],  # another shape
        ["https://b.example/hook", "https://z.example/hook"],
    ):
        since = _since()
        with django_assert_num_queries(1):
            rows = by_urls(urls, since)
        assert rows == list(_by_urls(urls, since))
        assert rows and rows[0][1] == ["accounts.user.banned"]  # JSON converted


def test_on_postgresql_the_text_is_reused(require_postgres):
    """Strings and datetimes reach psycopg as given: every shape is kept."""
    from core.compiled import Reused

    _endpoint("https://a.example/hook")
    by_urls = Reused(_by_urls)
    assert by_urls(["https://a.example/hook"], _since()) == [("https://a.example/hook", [])]
    assert by_urls(["https://b.example/hook", "https://a.example/hook"], _since())
    assert len(by_urls._shapes) == 2 and all(by_urls._shapes.values())


def test_reused_compiles_once_per_shape(monkeypatch, require_postgres):
    from django.db.models.sql.compiler import SQLCompiler

    from core.compiled import Reused

    _endpoint("https://a.example/hook")
    compiled = _count_compiles(monkeypatch, SQLCompiler)
    by_urls = Reused(_by_urls)
    for _ in range(3):
        by_urls([f"https://{n}.example/hook" for n in "ab"], _since())
    assert len(compiled) == 1
    by_urls([f"https://{n}.example/hook" for n in "abc"], _since())
    assert len(compiled) == 2


def test_a_value_the_orm_rewrites_is_compiled_every_time():
    """`icontains` sends "%text%", not the value given: it cannot be put in
    place, so each call is the queryset's own (and still right)."""
    from core.compiled import Reused

    _endpoint("https://a.example/hook")
    _endpoint("https://b.example/hook")
    containing = Reused(
        lambda text: WebhookEndpoint.objects.filter(url__icontains=text).values_list("url")
    )
    assert containing("a.example") == [("https://a.example/hook",)]
    assert containing("b.example") == [("https://b.example/hook",)]
    assert set(containing._shapes.values()) == {False}


def test_a_value_given_twice_is_not_learnt_from(require_postgres):
    """`url__in` sends a repeated value once: the call that repeats one is
    the queryset's own, and the shape is learnt from the next call."""
    from core.compiled import Reused

    _endpoint("https://a.example/hook")
    _endpoint("https://b.example/hook")
    a, b = "https://a.example/hook", "https://b.example/hook"
    by_urls = Reused(_by_urls)
    assert by_urls([a, a], _since()) == [(a, [])]
    assert not by_urls._shapes
    assert by_urls([a, b], _since()) == [(a, []), (b, [])]
    assert by_urls([b, a], _since()) == [(a, []), (b, [])]
    assert all(by_urls._shapes.values())


# --- ReusedInstances: whole rows, locking reads -------------------------------


def _locked_endpoint(pk):
    return WebhookEndpoint.objects.select_for_update().filter(pk=pk)


def test_reused_instances_are_the_querysets_own(django_assert_num_queries):
    from django.db import transaction

    from core.compiled import ReusedInstances

    a = _endpoint("https://a.example/hook", event_types=["accounts.user.banned"])
    b = _endpoint("https://b.example/hook", enabled=False)
    locked = ReusedInstances(_locked_endpoint)
    with transaction.atomic():
        for endpoint in (a, b, a):
            with django_assert_num_queries(1):
                [found] = locked(endpoint.pk)
            [own] = _locked_endpoint(endpoint.pk)
            fields = [f.attname for f in WebhookEndpoint._meta.concrete_fields]
            assert [getattr(found, f) for f in fields] == [getattr(own, f) for f in fields]
            assert found._state.db == own._state.db and not found._state.adding
        assert locked(99_999_999) == []
    assert found.event_types == ["accounts.user.banned"]  # JSON converted


def test_reused_instances_compile_once_and_lock_the_row(monkeypatch, require_postgres):
    from django.db import connection, transaction
    from django.db.models.sql.compiler import SQLCompiler
    from django.test.utils import CaptureQueriesContext

    from core.compiled import ReusedInstances

    endpoints = [_endpoint(f"https://{n}.example/hook") for n in "abc"]
    compiled = _count_compiles(monkeypatch, SQLCompiler)
    locked = ReusedInstances(_locked_endpoint)
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        for endpoint in endpoints:
            assert locked(endpoint.pk)[0].url == endpoint.url
    assert len(compiled) == 1
    assert all(q["sql"].rstrip().endswith("FOR UPDATE") for q in ctx.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_reused_locking_read_outside_a_transaction_is_refused_every_time(require_postgres):
    """As the ORM's own: on the first call (which compiles) and on later
    ones (which do not)."""
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    from core.compiled import ReusedInstances

    endpoint = _endpoint("https://a.example/hook")
    locked = ReusedInstances(_locked_endpoint)
    with pytest.raises(TransactionManagementError):
        locked(endpoint.pk)
    with transaction.atomic():
        assert locked(endpoint.pk)
    with pytest.raises(TransactionManagementError):
        locked(endpoint.pk)


def test_a_reused_locking_read_goes_where_writes_go(monkeypatch):
    """Inside a read-only page's reads (a replica, when there is one) a
    locking read still goes to the primary, as the queryset's would."""
    from django.db import router, transaction

    from core.compiled import ReusedInstances

    endpoint = _endpoint("https://a.example/hook")
    locked = ReusedInstances(_locked_endpoint)
    # Reads routed to an alias that does not exist: a read sent there fails.
    monkeypatch.setattr(router, "db_for_read", lambda model, **hints: "nowhere")
    with transaction.atomic():
        assert locked(endpoint.pk)[0].pk == endpoint.pk
        assert locked(endpoint.pk)[0].pk == endpoint.pk


def test_a_partial_row_is_read_by_the_queryset_each_time():
    from core.compiled import ReusedInstances

    endpoint = _endpoint("https://a.example/hook")
    only_url = ReusedInstances(lambda pk: WebhookEndpoint.objects.filter(pk=pk).only("url"))
    assert only_url(endpoint.pk)[0].url == endpoint.url
    assert set(only_url._shapes.values()) == {False}


# --- Inserted: one new row, its INSERT written by the ORM once -----------------


def _event(action="accounts.user.banned", **fields):
    from audit.models import AuditEvent

    return AuditEvent(action=action, actor_label="bench@example.com", **fields)


def _columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_inserted_rows_are_bulk_creates_own(require_postgres):
    """Each row as `bulk_create` writes it: every column read back equal,
    the database's id set on the object, the object saved -- for the row
    the statement is learnt from and for the rows after it, each with its
    own values (JSON, None, text) in its own columns."""
    from audit.models import AuditEvent
    from core.compiled import Inserted

    insert = Inserted(AuditEvent)
    rows = [
        _event(reason="first", changes={"a": [1, 2]}, ip="10.0.0.1"),
        _event(reason="second", changes={}, ip=None, target_id="x" * 64),
        _event(action="accounts.user.unbanned", reason="", changes={"b": {"c": None}}),
    ]
    for row in rows:
        assert insert(row) is row
        assert row.pk is not None and not row._state.adding and row._state.db == "default"
    expected = [AuditEvent(**{**_columns(r), "id": None}) for r in rows]
    AuditEvent.objects.bulk_create(expected)
    for row, twin in zip(rows, expected, strict=True):
        stored = AuditEvent.objects.get(pk=row.pk)
        stored_twin = AuditEvent.objects.get(pk=twin.pk)
        assert {**_columns(stored), "id": 0} == {**_columns(stored_twin), "id": 0}
        assert _columns(stored) == _columns(row)


def test_inserted_compiles_once(monkeypatch, require_postgres):
    from django.db.models.sql.compiler import SQLInsertCompiler

    from audit.models import AuditEvent
    from core.compiled import Inserted

    compiled = _count_compiles(monkeypatch, SQLInsertCompiler)
    insert = Inserted(AuditEvent)
    for n in range(4):
        insert(_event(reason=f"row {n}"))
    # The statement learnt (1) and the learning row written by the ORM (1);
    # the three rows after it compile nothing.
    assert len(compiled) == 2
    assert list(
        AuditEvent.objects.filter(reason__startswith="row ")
        .order_by("id")
        .values_list("reason", flat=True)
    ) == [f"row {n}" for n in range(4)]


def test_an_inserted_row_with_its_own_key_and_a_related_object(require_postgres):
    """A row whose primary key is set before (an outbound email's uuid)
    and whose foreign key is given as an object: its id is written."""
    from accounts.models import OutboundEmail
    from core.compiled import Inserted
    from tests.conftest import make_user

    user = make_user("reader@example.com")
    insert = Inserted(OutboundEmail)
    emails = [
        OutboundEmail(
            to=f"reader{n}@example.com",
            user=user,
            template="t",
            subject=f"s{n}",
            message_id=f"<m{n}@x>",
        )
        for n in range(3)
    ]
    for email in emails:
        insert(email)
    stored = list(OutboundEmail.objects.order_by("subject").values_list("pk", "user_id", "to"))
    assert stored == [(e.pk, user.pk, e.to) for e in emails]


def test_a_value_that_is_an_expression_is_the_orms_own(require_postgres):
    from django.db.models.functions import Now

    from audit.models import AuditEvent
    from core.compiled import Inserted

    insert = Inserted(AuditEvent)
    insert(_event(reason="plain"))
    row = insert(_event(reason="expression", created_at=Now()))
    stored = AuditEvent.objects.get(pk=row.pk)
    assert stored.reason == "expression" and stored.created_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_inserted_row_from_another_thread_uses_that_threads_connection(require_postgres):
    """Connections are per thread (gunicorn's threads): a statement learnt
    in one thread inserts rows in another through that thread's own
    connection, committed there."""
    import threading

    from django.db import connection

    from audit.models import AuditEvent
    from core.compiled import Inserted

    insert = Inserted(AuditEvent)
    insert(_event(reason="learnt here"))
    seen = {}

    def other():
        try:
            row = insert(_event(reason="from a thread"))
            seen["pk"], seen["connection"] = row.pk, id(connection.connection)
        finally:
            connection.close()

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen["connection"] != id(connection.connection)
    assert AuditEvent.objects.get(pk=seen["pk"]).reason == "from a thread"
