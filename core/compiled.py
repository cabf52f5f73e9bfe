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
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, router


class Compiled:
    """`Compiled(lambda: Model.objects.filter(...))()`: the queryset's rows,
    as model instances (a `RawQuerySet`), its SQL compiled by the ORM on
    the first call for each database alias it is read from."""

    def __init__(self, build):
        self._build = build
        self._model = None
        self._sql: dict[str, str] = {}

    def __call__(self):
        queryset = None
        if self._model is None:
            queryset = self._build()
            self._model = queryset.model
        alias = router.db_for_read(self._model) or DEFAULT_DB_ALIAS
        sql = self._sql.get(alias)
        if sql is None:
            queryset = queryset if queryset is not None else self._build()
            sql, params = queryset.query.get_compiler(using=alias).as_sql()
            if params:
                raise ValueError("Compiled takes querysets without parameters only")
            self._sql[alias] = sql
        return self._model._default_manager.db_manager(alias).raw(sql)
