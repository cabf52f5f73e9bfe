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

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import errors


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


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Driver()

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
