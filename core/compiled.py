"""Querysets whose SQL the ORM writes once per process.

Compiling a queryset is most of what a small statement costs the client:
on the benchmark machine 0.25-0.4 ms of CPU to build and compile a
one-table SELECT, against about 0.1 ms to run the same SQL through
`Manager.raw`, which still makes model instances with the fields'
converters. An audited write runs a few statements whose text never
changes -- no parameters, the same SQL every time (the enabled webhook
endpoints, the owner) -- and for those `Compiled` keeps the text the ORM
wrote the first time, one per database alias. Nothing is hand-written:
identifiers, joins and ordering are the ORM's; a queryset with parameters
is refused, since its text would not fit the next call's values.

`Reused` does the same for a query whose values change from call to call
but whose shape does not (a page's holdings: its 50 ids and a time),
where the ORM passes the values to the driver as they are (PostgreSQL):
the text is compiled for the first call of each shape and each later
call puts its own values where the first call's were.

`Inserted` does it for the INSERT of one new row (an audit event, an
outbound email): the ORM writes the statement for the first row, and each
later row's values are still prepared by the ORM's own fields.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import AutoField
from django.db.models.sql import InsertQuery
from django.db.transaction import TransactionManagementError


def _whole_rows(queryset) -> bool:
    """Whether `queryset` reads whole model instances and nothing else:
    its rows are then the model's concrete fields, in order."""
    query = queryset.query
    return (
        queryset._fields is None
        and not query.deferred_loading[0]
        and not query.select_related
        and not query.annotations
    )


def _instances(model, alias, compiler, rows) -> list:
    """`rows` of a whole-instance query as the model's instances, each
    value through its field's converter (JSON, say), as the queryset's."""
    fields = [f.attname for f in model._meta.concrete_fields]
    return [
        model.from_db(alias, fields, row)
        for row in compiler.results_iter(results=[rows], tuple_expected=True)
    ]


class Compiled:
    """`Compiled(lambda: Model.objects.filter(...))()`: the queryset's rows,
    as a list of model instances, its SQL compiled by the ORM on the first
    call for each database alias it is read from. A queryset of some
    fields only (`only()`) gives a `RawQuerySet`'s instances, the rest
    deferred."""

    def __init__(self, build):
        self._build = build
        self._model = None
        self._sql: dict[str, tuple] = {}

    def __call__(self):
        queryset = None
        if self._model is None:
            queryset = self._build()
            self._model = queryset.model
        alias = router.db_for_read(self._model) or DEFAULT_DB_ALIAS
        known = self._sql.get(alias)
        if known is None:
            queryset = queryset if queryset is not None else self._build()
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            if params:
                raise ValueError("Compiled takes querysets without parameters only")
            known = self._sql[alias] = (sql, compiler if _whole_rows(queryset) else None)
        sql, compiler = known
        if compiler is None:
            return list(self._model._default_manager.db_manager(alias).raw(sql))
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
        return _instances(self._model, alias, compiler, rows)


# Shapes kept per `Reused`: a page size is one shape; past this many the
# cache starts afresh (a caller with unbounded shapes gains nothing).
REUSED_SHAPES = 64


class Reused:
    """`Reused(build)(*values)`: the rows of `build(*values)`, a
    `values_list` queryset, as its tuples. `build` must take from
    `values` everything that varies between calls: a list stands for
    its items. The SQL is compiled by the ORM for the first call of each
    shape (database alias, each list's length, each value's type); later
    calls of that shape put their values where the first call's were.

    That holds only where each value reaches the driver as the very object
    given (PostgreSQL with uuids, datetimes, strings, numbers), exactly
    once, and none is None (which changes the text). Elsewhere (SQLite
    writes a uuid as hex, a lookup may rewrite a string) every call of
    that shape is compiled as usual."""

    def __init__(self, build):
        self._build = build
        self._model = None
        self._for_write = False
        self._shapes: dict = {}

    def __call__(self, *values) -> list[tuple]:
        flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
        if self._model is None:
            queryset = self._build(*values)
            # A locking read goes where writes go, as the queryset's would.
            self._for_write = queryset._for_write
            self._model = queryset.model
        route = router.db_for_write if self._for_write else router.db_for_read
        alias = route(self._model) or DEFAULT_DB_ALIAS
        shape = (
            alias,
            tuple(len(v) if isinstance(v, list) else None for v in values),
            tuple(type(v) for v in flat),
        )
        known = self._shapes.get(shape)
        if known is None:
            known = self._compile(shape, values, flat)
        if known is False:
            return self._unreused(self._build(*values).using(alias))
        sql, params, slots, compiler = known
        params = list(params)
        for slot, value in zip(slots, flat, strict=True):
            params[slot] = value
        self._before(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        # The fields' converters (JSON, say), as the queryset applies them.
        return self._rows(alias, compiler, rows)

    def _unreused(self, queryset) -> list:
        return list(queryset)

    def _before(self, alias) -> None:
        """Checks the queryset's own evaluation would make (none here)."""

    def _rows(self, alias, compiler, rows) -> list:
        return list(compiler.results_iter(results=[rows], tuple_expected=True))

    def _compile(self, shape, values, flat):
        if len({id(v) for v in flat}) < len(flat):
            # One object given twice: the ORM may send it once (`__in`
            # drops repeats), so its places cannot be told. This call is
            # the queryset's own; the shape is learnt from another.
            return False
        queryset = self._build(*values)
        compiler = queryset.query.get_compiler(using=shape[0])
        known = False
        if flat and all(v is not None for v in flat):
            try:
                sql, params = compiler.as_sql()
            except EmptyResultSet:  # no query at all: the queryset knows
                sql, params = None, ()
            # Where each value went, by identity: one pass over the
            # parameters (a batch's thousand ids, twice over, would be
            # millions of comparisons value by value).
            places: dict[int, list[int]] = {}
            for i, p in enumerate(params):
                places.setdefault(id(p), []).append(i)
            slots = [places.get(id(v), []) for v in flat]
            if sql and all(len(found) == 1 for found in slots):
                known = (sql, tuple(params), [found[0] for found in slots], compiler)
        return self._learn(shape, known)

    def _learn(self, shape, known):
        """Keep what was learnt of `shape` (at most REUSED_SHAPES shapes)."""
        if len(self._shapes) >= REUSED_SHAPES:
            self._shapes.clear()
        self._shapes[shape] = known
        return known


class ReusedInstances(Reused):
    """`ReusedInstances(build)(*values)`: as `Reused`, for a queryset of
    whole model instances (no `values_list`, no deferred fields, no
    `select_related`), `select_for_update()` allowed. A locking read, like
    the ORM's, must run inside a transaction where the database locks rows
    (not SQLite): outside one it raises `TransactionManagementError`, on
    every call, not only the first."""

    _locking = False

    def _compile(self, shape, values, flat):
        queryset = self._build(*values)
        self._locking = queryset.query.select_for_update
        if not _whole_rows(queryset):
            return self._learn(shape, False)  # each call the queryset's own
        return super()._compile(shape, values, flat)

    def _before(self, alias) -> None:
        connection = connections[alias]
        if (
            self._locking
            and connection.features.has_select_for_update
            and connection.get_autocommit()
        ):
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )

    def _rows(self, alias, compiler, rows) -> list:
        return _instances(self._model, alias, compiler, rows)


class Inserted:
    """`Inserted(Model)(obj)`: `Model.objects.bulk_create([obj])` for one
    new row, with the INSERT (and its RETURNING) that the ORM wrote for
    the first row kept per database alias. Each call prepares its own
    values through the model's fields, as `bulk_create` does (the primary
    key's default, related objects' ids, `pre_save`, `get_db_prep_save`),
    in the order the statement names them; only the statement's text is
    reused. On PostgreSQL; where the ORM's statement is anything but one
    placeholder a field, where a value is an expression (its SQL would be
    in the text), or on another database, the call is `bulk_create`'s own.

    On the benchmark machine (stop 31) `bulk_create` spent 0.44-0.47 ms
    of CPU on one audit event, this 0.31-0.36 (500 each, alternating):
    what is left is preparing the values and the driver binding them."""

    def __init__(self, model):
        self._model = model
        # alias -> (sql, fields, returning fields, names the primary key) | False
        self._sql: dict[str, tuple | bool] = {}

    def __call__(self, obj):
        model = self._model
        alias = router.db_for_write(model, instance=obj) or DEFAULT_DB_ALIAS
        if not obj._is_pk_set():
            obj.pk = model._meta.pk.get_pk_value_on_save(obj)
        known = self._sql.get(alias)
        if known is None:
            # The ORM inserts this row, and the statement is learnt from it.
            self._sql[alias] = self._statement(alias, obj)
            return self._by_the_orm(alias, obj)
        if known is False or obj._is_pk_set() != known[3]:
            return self._by_the_orm(alias, obj)
        sql, fields, returning, _ = known
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        # A compiler of this thread's connection (connections are per
        # thread) prepares the values, as the ORM's own would.
        query = InsertQuery(model)
        query.insert_values(fields, [])
        compiler = query.get_compiler(using=alias)
        values = [compiler.pre_save_val(f, obj) for f in fields]
        if any(hasattr(v, "resolve_expression") for v in values):
            return self._by_the_orm(alias, obj)
        params = [compiler.prepare_value(f, v) for f, v in zip(fields, values, strict=True)]
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone() if returning else ()
        for field, value in zip(returning, row, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = alias
        return obj

    def _by_the_orm(self, alias, obj):
        self._model._default_manager.db_manager(alias).bulk_create([obj])
        return obj

    def _statement(self, alias, obj):
        """(sql, fields, returning fields, names the primary key) as
        `bulk_create` writes them for `obj` alone, or False when they are
        not one placeholder a field (or not on PostgreSQL)."""
        opts = self._model._meta
        if connections[alias].vendor != "postgresql" or opts.parents:
            return False
        with_pk = obj._is_pk_set()
        fields = [f for f in opts.concrete_fields if not f.generated]
        returning = list(opts.db_returning_fields)
        if with_pk:
            returning = [f for f in returning if f is not opts.pk]
        else:
            fields = [f for f in fields if not isinstance(f, AutoField)]
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        query = InsertQuery(self._model)
        query.insert_values(fields, [obj])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = returning
        statements = compiler.as_sql()
        if len(statements) != 1:
            return False
        sql, params = statements[0]
        placeholders = ", ".join(["%s"] * len(fields))
        converters = compiler.get_converters([f.get_col(opts.db_table) for f in returning])
        if len(params) != len(fields) or f"VALUES ({placeholders})" not in sql or converters:
            return False
        return sql, fields, returning, with_pk
