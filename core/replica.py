"""Read-only pages read from a replica, when there is one.

`DATABASE_REPLICA_URL` adds a `replica` database alias (a streaming
replica of the primary, usually behind its own PgBouncer). A page marks
itself read-only with `@replica_reads`; while it runs, `ReplicaRouter`
sends the ORM's reads to the replica and every write to the primary
(`default`). Nothing else moves:

- the middleware's reads (session, the signed-in user, the second
  factor, the actor's own permissions) happen before the view, on the
  primary: who you are and what you may do are never read from a copy
  that lags;
- inside a transaction on the primary (a service: lock, guard, write)
  reads stay there too;
- what a read-only page offers (a button) is only an offer: the service
  behind it locks the row and asks its guard again on the primary.

So a replica's lag can show a list a moment old, never let anyone act on
it. Without a `replica` alias the decorator changes nothing.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar

from django.conf import settings
from django.db import connections

REPLICA = "replica"
_reading_from_replica: ContextVar[bool] = ContextVar("reading_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES and getattr(settings, "DATABASE_REPLICA_READS", True)


def replica_reads(view):
    """Mark a view as a read-only page: its reads may go to the replica."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token = _reading_from_replica.set(True)
        try:
            return view(request, *args, **kwargs)
        finally:
            _reading_from_replica.reset(token)

    return wrapper


class ReplicaRouter:
    """Reads of a `@replica_reads` page to `replica`; everything else, and
    every write, to `default`."""

    def db_for_read(self, model, **hints):
        if not _reading_from_replica.get() or not replica_configured():
            return None
        if connections["default"].in_atomic_block:
            return None  # a transaction on the primary reads what it locked
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA
