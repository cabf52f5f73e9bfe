"""What /healthz reports, found within a fixed budget (issue 28).

Each probe (the database, Redis) runs on a small pool of threads of its own
with its own connection, and the answer waits at most
HEALTH_CHECK_BUDGET_SECONDS for them: a database that holds connections
open and never answers, or a silent Redis, is reported unreachable when
the budget runs out instead of holding the health check (and the thread
serving it) for its timeouts. A probe still running from an earlier check
is waited on again rather than started twice, so a dead dependency never
piles up probes.

The database probe opens a new connection each time (bounded by
connect_timeout), so it sees what a new request would see -- a restarted
server, `default_transaction_read_only` switched on, a standby after a
failover -- and closes it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.db import connection

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")
_lock = threading.Lock()
_inflight: dict[str, Future] = {}


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
                )
                read_only = bool(cursor.fetchone()[0])
            else:
                cursor.execute("SELECT 1")
                cursor.fetchone()
                read_only = False
        return {"ok": not read_only, "reachable": True, "read_only": read_only}
    except Exception as exc:  # reported, not raised: this is the health check
        return {"ok": False, "reachable": False, "error": exc.__class__.__name__}
    finally:
        connection.close()


def _broker() -> dict:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}


_PROBES = {"database": _database, "broker": _broker}
_TIMED_OUT = {
    "database": {"ok": False, "reachable": False, "error": "no answer within the budget"},
    "broker": {"ok": False, "error": "no answer within the budget"},
}


def _start(name: str) -> Future:
    with _lock:
        future = _inflight.get(name)
        if future is None or future.done():
            future = _inflight[name] = _pool.submit(_PROBES[name])
        return future


def probe(names=("database", "broker")) -> dict[str, dict]:
    """{name: result} for each probe, within HEALTH_CHECK_BUDGET_SECONDS."""
    deadline = time.monotonic() + settings.HEALTH_CHECK_BUDGET_SECONDS
    futures = {name: _start(name) for name in names}
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = dict(_TIMED_OUT[name])
    return results
