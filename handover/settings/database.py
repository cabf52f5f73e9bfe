"""The database: connections, their bounded waits (issue 28), SQLite's
demo settings and the read replica."""

import os
import sys

import dj_database_url

from handover.settings.env import BASE_DIR, env_float, env_int

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Read-only pages (`core.replica.replica_reads`: the lists, the user page,
# the audit log, the overview) read from a streaming replica when
# DATABASE_REPLICA_URL names one; writes, sign-in and every service stay on
# the primary (README "Capacity").
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
# Which kind of process this is: "web" (handover/wsgi.py and asgi.py set
# it), "worker" (the Procfile's worker line sets it; a `celery ... worker`
# command line counts too), or "" (management commands, beat, tests).
_PROCESS = os.environ.get("HANDOVER_PROCESS") or (
    "worker" if "celery" in sys.argv[0] and "worker" in sys.argv[1:] else ""
)
# Statement timeout (PostgreSQL): no page may wait on one slow or blocked
# statement until gunicorn kills the worker (30 s) -- it is cancelled after
# this many ms and answers 503 "busy, retry". 10 s is far above any page's
# queries (tens of ms) and under gunicorn's timeout. Workers get 120 s: a
# job chunk's set-based statements take seconds at most, and a statement
# still running after two minutes is stuck, not working (the job's task
# retries). Management commands (audit_prune, migrations) get none: their
# long statements are legitimate. Set DATABASE_STATEMENT_TIMEOUT_MS=0 to
# disable, or set it for any process.
DATABASE_STATEMENT_TIMEOUT_MS = env_int(
    "DATABASE_STATEMENT_TIMEOUT_MS", {"web": 10000, "worker": 120000}.get(_PROCESS, 0)
)
# Lock timeout for workers (issue 28, F6): a job chunk that waits more than
# this for a row lock held by someone else gives up with a transient error
# and its task retries later, instead of holding a worker slot (and the
# emails queued behind it) for as long as the lock is held. Web requests
# are bounded by the statement timeout; the audit chain's lock has its own
# (AUDIT_LOCK_TIMEOUT_MS).
DATABASE_LOCK_TIMEOUT_MS = env_int("DATABASE_LOCK_TIMEOUT_MS", {"worker": 10000}.get(_PROCESS, 0))
# How long the client waits for any answer on an open connection before
# giving the connection up (handover/postgresql/base.py): the only bound
# when the server holds the connection and says nothing (half-open), where
# the statement timeout never fires. Above the statement timeout, so the
# server's own cancel wins whenever the server is there. 0: no bound.
DATABASE_ANSWER_TIMEOUT_SECONDS = env_float(
    "DATABASE_ANSWER_TIMEOUT_SECONDS",
    DATABASE_STATEMENT_TIMEOUT_MS / 1000 + 5 if DATABASE_STATEMENT_TIMEOUT_MS else 0,
)
# The check Django runs on a persistent connection before a request uses it
# (CONN_HEALTH_CHECKS): a connection that does not answer SELECT 1 within
# this is replaced, bounded by connect_timeout below.
DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS = env_float("DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS", 1)
# The planner's price of a random page read against a sequential one (1 is
# sequential). PostgreSQL's default, 4, assumes spinning disks; on SSDs,
# or with the hot indexes in memory, 1.1 is the usual setting. At 4 an
# organization administrator's list (1,100 members among 100,000 users)
# was planned as a scan of every user (25 ms) instead of 1,100 index
# probes (6.6 ms). 0: the server's own setting.
DATABASE_RANDOM_PAGE_COST = env_float("DATABASE_RANDOM_PAGE_COST", 1.1)
# Prepared statements inside services (`core.services.service`,
# handover/postgresql/base.py; issue 29): within a service, parameters are
# bound by the server and a statement run this many times on one
# connection is prepared, so PostgreSQL may reuse its plan instead of
# planning it again. Services read and write rows by key, so a plan that
# ignores the values is as good as one made for them; pages' searches and
# filters keep Django's binding in the client and are planned for their
# own text. Behind PgBouncer in transaction mode, give it
# max_prepared_statements (1.21 or newer), or set 0 here: nothing is
# prepared and every statement is bound in the client, Django's default.
DATABASE_PREPARE_THRESHOLD = env_int("DATABASE_PREPARE_THRESHOLD", 5)
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["ENGINE"] = "handover.postgresql"
    _server_options = " ".join(
        f"-c {name}={value}"
        for name, value in (
            ("statement_timeout", DATABASE_STATEMENT_TIMEOUT_MS),
            ("lock_timeout", DATABASE_LOCK_TIMEOUT_MS),
            ("random_page_cost", DATABASE_RANDOM_PAGE_COST),
        )
        if value
    )
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # libpq: a new connection gives up after this many seconds (2 at
            # least, libpq's floor), so a half-open or unreachable server
            # answers 503 within seconds, not when gunicorn kills the worker.
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3),
            # A peer that vanished (host down, partition) is noticed within
            # about idle + interval * count = 5 + 2 * 3 = 11 s while idle,
            # and data left unacknowledged for tcp_user_timeout ms breaks
            # the connection.
            "keepalives": 1,
            "keepalives_idle": env_int("DATABASE_KEEPALIVES_IDLE", 5),
            "keepalives_interval": env_int("DATABASE_KEEPALIVES_INTERVAL", 2),
            "keepalives_count": env_int("DATABASE_KEEPALIVES_COUNT", 3),
            "tcp_user_timeout": env_int("DATABASE_TCP_USER_TIMEOUT_MS", 10000),
        }
    )
    if _server_options:
        DATABASES["default"]["OPTIONS"]["options"] = _server_options
    if "replica" in DATABASES:  # the same bounds on every wait
        DATABASES["replica"]["ENGINE"] = "handover.postgresql"
        DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"]["OPTIONS"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default must take a demo's concurrent requests: WAL lets
    # readers run beside the one writer; IMMEDIATE transactions take the
    # write lock at BEGIN (a deferred one that upgrades later fails at once
    # with "database is locked", whatever the timeout); the busy timeout
    # makes a writer wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        }
    )
# /healthz answers within this many seconds whatever the database and Redis
# do (handover/health.py): a dependency that has not answered by then is
# reported unreachable.
HEALTH_CHECK_BUDGET_SECONDS = env_float("HEALTH_CHECK_BUDGET_SECONDS", 0.8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
