"""Timeouts everywhere a web request can wait (issue 17): web processes run
every SQL statement under DATABASE_STATEMENT_TIMEOUT_MS; workers and
commands do not; a statement cancelled by it answers 503 "busy, retry"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction

from core.services import ServiceBusy, as_busy

ROOT = Path(__file__).resolve().parent.parent
SHOW = (
    "import json, django.conf as c; "
    "print(json.dumps(c.settings.DATABASES['default'].get('OPTIONS', {})))"
)


def _options(code: str, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "HANDOVER_PROCESS"}
    environ.update(env, DJANGO_SETTINGS_MODULE="handover.settings")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_web_processes_run_statements_under_a_timeout_and_workers_do_not():
    url = "postgres://postgres@127.0.0.1:5432/handover_jobs"
    web = _options("import handover.wsgi; " + SHOW, DATABASE_URL=url)
    assert web.get("options") == "-c statement_timeout=10000 -c random_page_cost=1.1"
    worker = _options("import django; django.setup(); " + SHOW, DATABASE_URL=url)
    assert "statement_timeout" not in worker.get("options", "")
    tuned = _options(
        "import handover.wsgi; " + SHOW,
        DATABASE_URL=url,
        DATABASE_STATEMENT_TIMEOUT_MS="2500",
        DATABASE_RANDOM_PAGE_COST="0",  # the server's own
    )
    assert tuned.get("options") == "-c statement_timeout=2500"


@pytest.mark.django_db
def test_a_statement_cancelled_by_its_timeout_counts_as_busy(require_postgres):
    with (
        pytest.raises(OperationalError) as cancelled,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(1)")
    assert isinstance(as_busy(cancelled.value), ServiceBusy)
    assert as_busy(cancelled.value).code == "busy"  # not "unavailable": it only waited too long


@pytest.mark.django_db
def test_a_silent_smtp_server_costs_one_email_timeout_not_a_hang(settings, member):
    """EMAIL_TIMEOUT applies to the outbox's SMTP connection: a server that
    accepts and then says nothing fails the attempt (retry scheduled)."""
    import socket
    import time

    from accounts.models import OutboundEmail
    from accounts.services import emails

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
    settings.EMAIL_TIMEOUT = 1
    try:
        email = emails.email_queue(to=member.email, template="email_verify", context={"link": "x"})
        started = time.monotonic()
        outcome = emails.email_deliver(email.pk)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 3
    assert outcome.status == "pending" and outcome.retry_in is not None
    assert "timed out" in OutboundEmail.objects.get(pk=email.pk).last_error


def test_every_process_bounds_its_connections_and_workers_their_locks():
    """libpq gives up on a new connection and on a vanished peer (issue 28,
    F1); workers run statements and row-lock waits under a budget suited to
    job chunks (F6), so a blocked chunk retries instead of holding a slot."""
    url = "postgres://postgres@127.0.0.1:5432/handover_jobs"
    for code, env in (
        ("import handover.wsgi; " + SHOW, {}),
        ("import django; django.setup(); " + SHOW, {"HANDOVER_PROCESS": "worker"}),
        ("import django; django.setup(); " + SHOW, {}),
    ):
        options = _options(code, DATABASE_URL=url, **env)
        assert options["connect_timeout"] == 3
        assert options["keepalives"] == 1 and options["tcp_user_timeout"] == 10000
    worker = _options(
        "import django; django.setup(); " + SHOW, DATABASE_URL=url, HANDOVER_PROCESS="worker"
    )
    assert worker["options"] == (
        "-c statement_timeout=120000 -c lock_timeout=10000 -c random_page_cost=1.1"
    )


@pytest.mark.django_db
def test_a_half_open_database_costs_a_query_its_answer_timeout_and_a_connect_its_timeout(
    require_postgres, settings
):
    """A server that holds the connection and never answers (the proxy
    stops forwarding): statement_timeout cannot fire, the kernel keeps
    acknowledging; the client's own deadline ends the wait, and the error
    counts as "database unavailable" (503)."""
    import time

    from handover.postgresql.base import DatabaseWrapper
    from tests.faults import TcpProxy

    settings.DATABASE_ANSWER_TIMEOUT_SECONDS = 1
    settings.DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    s = connection.settings_dict
    proxy = TcpProxy(s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)).start()
    params = {**s, "PORT": str(proxy.port), "OPTIONS": {**s["OPTIONS"], "connect_timeout": 2}}
    other = DatabaseWrapper(params, alias="half-open")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT 1")
        proxy.pause()  # half-open from here: connections stay up, nothing flows
        started = time.monotonic()
        assert not other.is_usable()
        usable_check = time.monotonic() - started
        other.close()
        started = time.monotonic()
        with pytest.raises(OperationalError) as refused:
            other.ensure_connection()
        connecting = time.monotonic() - started
        proxy.resume()
        other.close()
        with other.cursor() as cursor:
            cursor.execute("SELECT 1")
        proxy.pause()
        started = time.monotonic()
        with pytest.raises(OperationalError) as silent, other.cursor() as cursor:
            cursor.execute("SELECT 1")
        answering = time.monotonic() - started
    finally:
        proxy.stop()
        other.close()
    print(
        f"FIGURE half-open: health check {usable_check:.2f}s, connect {connecting:.2f}s, "
        f"query {answering:.2f}s"
    )
    assert usable_check < 1
    assert connecting < 4.5
    assert answering < 2
    assert as_busy(refused.value).code == "unavailable"
    assert as_busy(silent.value).code == "unavailable"
    assert "did not answer within 1 s" in str(silent.value)
