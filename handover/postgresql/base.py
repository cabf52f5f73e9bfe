"""PostgreSQL with a bound on how long the client waits for an answer.

`connect_timeout` bounds a new connection, keepalives and `tcp_user_timeout`
a peer that vanished, `statement_timeout` a statement the server is running.
None of them fires when the server (or a proxy before it) holds the
connection open and never answers: the statement never reaches a server
that could cancel it, and the kernel keeps acknowledging. This backend
gives every wait on a connection a deadline of its own
(DATABASE_ANSWER_TIMEOUT_SECONDS, above the statement timeout so a
server-side cancel wins whenever the server is there), after which the
connection is closed and the wait raises OperationalError -- answered 503
"unavailable, retry" like any unreachable database. The health check
Django runs on a persistent connection at the start of a request
(CONN_HEALTH_CHECKS) waits at most DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import errors

# The most parameters one statement can carry in PostgreSQL's protocol.
MAX_BOUND_PARAMETERS = 65535


class AnsweringConnection(psycopg.Connection):
    """A psycopg connection whose waits give up after `answer_timeout` s."""

    answer_timeout: float | None = None

    def wait(self, gen, interval=0.1, timeout=None):
        if timeout is None and self.answer_timeout:
            timeout = self.answer_timeout
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except errors._WaitTimeout as exc:
            # Mid-protocol: the connection cannot be used again.
            self.pgconn.finish()
            raise errors.OperationalError(
                f"the database did not answer within {timeout:g} s"
            ) from exc


class _Driver:
    """psycopg, connecting with `AnsweringConnection`."""

    def __getattr__(self, name):
        return getattr(psycopg, name)

    @staticmethod
    def connect(*args, **kwargs):
        return AnsweringConnection.connect(*args, **kwargs)


class _BoundByTheServer(base.ServerBindingCursor):
    """Django's cursor whose parameters the server binds, except for a
    statement with more of them than the protocol carries (a bulk insert
    of thousands of rows): its values are bound in the client, as they are
    outside services."""

    def execute(self, query, params=None, **kwargs):
        if params is not None and len(params) > MAX_BOUND_PARAMETERS:
            query, params = base.Cursor(self.connection).mogrify(query, params), None
        return super().execute(query, params, **kwargs)


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Driver()

    @contextmanager
    def statements_prepared(self):
        """Within (`core.services.service` enters it), parameters are bound
        by the server and a statement run DATABASE_PREPARE_THRESHOLD times
        on this connection is prepared, so PostgreSQL may reuse its plan
        (issue 29: an audited ban's statements cost its database about
        40 % less CPU). Services read and write rows by key, where a plan
        made without the values is as good; pages keep Django's binding in
        the client and a plan made for each search's own text. Nested:
        the outermost one decides."""
        threshold = settings.DATABASE_PREPARE_THRESHOLD
        raw = self.connection
        if threshold <= 0 or raw is None or raw.prepare_threshold is not None:
            yield
            return
        client_binding = raw.cursor_factory
        raw.prepare_threshold, raw.cursor_factory = threshold, _BoundByTheServer
        try:
            yield
        finally:
            raw.prepare_threshold, raw.cursor_factory = None, client_binding

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.answer_timeout = settings.DATABASE_ANSWER_TIMEOUT_SECONDS or None
        return connection

    def is_usable(self):
        if self.connection is None:
            return False
        saved = self.connection.answer_timeout
        self.connection.answer_timeout = settings.DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS
        try:
            return super().is_usable()
        finally:
            self.connection.answer_timeout = saved
