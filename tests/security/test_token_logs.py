"""One-time tokens never reach a log, an error report or a Referer: whoever
reads them there could accept the invitation or reset the password."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys

import pytest
import requests
from django.db import connection
from django.test import Client, RequestFactory
from gunicorn.config import Config

from handover.access_log import RedactingLogger
from handover.error_reports import RedactingExceptionReporter
from handover.logging import RedactingFormatter, RedactTokensFilter, redact_tokens
from tests.conftest import need, redis_available, redis_url
from tests.scale import nodes

pytestmark = pytest.mark.django_db

TOKEN_ROUTES = (
    "/invite/{}/",
    "/password/reset/{}/",
    "/magic/{}/",
    "/verify/{}/",
    "/sign-in/not-me/{}/",
)


def _token() -> str:
    return secrets.token_urlsafe(32)


@pytest.mark.parametrize("route", TOKEN_ROUTES)
def test_redact_tokens_hides_the_token_of_each_route(route):
    token = _token()
    line = f'GET {route.format(token)}?next={route.format(token)} HTTP/1.1 "http://h{route.format(token)}"'
    assert token not in redact_tokens(line)
    assert route.format("[redacted]") in redact_tokens(line)


def test_redact_tokens_finds_percent_encoded_paths_and_keeps_the_placeholder():
    token = _token()
    assert token not in redact_tokens(f"/login/?next=%2Finvite%2F{token}%2F")
    assert redact_tokens("/invite/continue/") == "/invite/continue/"
    assert redact_tokens("/users/42/") == "/users/42/"


def test_django_request_log_has_no_token(caplog):
    token = _token()
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().put(f"/invite/{token}/")  # 405, logged by django.request
    assert response.status_code == 405
    assert "/invite/[redacted]/" in caplog.text
    assert token not in caplog.text


def test_csrf_failures_are_logged_without_the_token(caplog):
    token = _token()
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        response = Client(enforce_csrf_checks=True).post(f"/password/reset/{token}/", {})
    assert response.status_code == 403
    assert "/password/reset/[redacted]/" in caplog.text and token not in caplog.text


def test_runserver_log_has_no_token(caplog):
    token = _token()
    with caplog.at_level(logging.INFO, logger="django.server"):
        logging.getLogger("django.server").info(
            '"%s" %s %s', f"GET /magic/{token}/ HTTP/1.1", "302", "0"
        )
    assert token not in caplog.text and "/magic/[redacted]/" in caplog.text


def test_the_console_formatter_redacts_whatever_logger_wrote_it():
    token = _token()
    record = logging.LogRecord(
        "app", logging.ERROR, __file__, 1, "at %s", (f"/invite/{token}/",), None
    )
    assert token not in RedactingFormatter("%(message)s").format(record)


def test_every_log_handler_redacts_tokens():
    """Whatever logger a line comes from, the handler that writes it redacts
    (its formatter), or the logger rewrote the record before (its filter)."""

    def redacts(obj) -> bool:
        return any(isinstance(f, RedactTokensFilter) for f in obj.filters)

    for name in ("", "django", "django.request", "django.server", "django.security.csrf"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if type(handler).__module__.startswith("_pytest"):
                continue  # caplog's own capture
            assert (
                isinstance(handler.formatter, RedactingFormatter)
                or redacts(handler)
                or redacts(logger)
            ), f"logger {name or 'root'}: {handler!r} writes tokens"


def _report_for(path: str):
    """An error report for a request to `path` whose frames hold only
    token paths (a bare token in a local variable is the view's to hide,
    with sensitive_variables)."""
    request = RequestFactory().get(path, {"next": path}, HTTP_REFERER=f"http://x{path}")
    try:
        local_path = f"{path}again/"  # noqa: F841 (a frame variable in the report)
        raise ValueError(f"boom at {path}")
    except ValueError:
        return RedactingExceptionReporter(request, *sys.exc_info())


def test_error_reports_have_no_token():
    token = _token()
    reporter = _report_for(f"/invite/{token}/")
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "[redacted]" in report and token not in report


def test_error_reports_use_the_redacting_reporter(settings):
    assert (
        settings.DEFAULT_EXCEPTION_REPORTER == "handover.error_reports.RedactingExceptionReporter"
    )


@pytest.mark.parametrize("route", TOKEN_ROUTES)
def test_a_url_with_a_token_is_answered_with_no_referrer(route):
    client = Client()
    hop = client.get(route.format(_token()))
    assert hop.status_code == 302 and hop["Location"] == route.format("continue")
    assert hop["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("route", TOKEN_ROUTES)
def test_the_placeholder_page_keeps_same_origin_so_its_form_passes_csrf(route):
    # Its URL holds no token; `no-referrer` would make browsers send
    # `Origin: null` with the form, which the CSRF check refuses.
    client = Client()
    client.get(route.format(_token()))
    assert client.get(route.format("continue"))["Referrer-Policy"] == "same-origin"


def test_other_pages_keep_the_same_origin_policy():
    assert Client().get("/login/")["Referrer-Policy"] == "same-origin"


def test_gunicorn_error_log_has_no_token():
    token = _token()
    logger = RedactingLogger(Config())
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.error_log.addHandler(handler)
    try:
        logger.error("Error handling request %s", f"/password/reset/{token}/")
        logger.log("warning", "Invalid request: %s", f"GET /magic/{token}/ HTTP/1.1")
    finally:
        logger.error_log.removeHandler(handler)
    messages = [record.getMessage() for record in records]
    assert len(messages) == 2 and all("[redacted]" in m and token not in m for m in messages)


# --- a real gunicorn, started as the Procfile starts it ---------------------------


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's `web:` command, with its variables filled in."""
    line = next(
        line
        for line in (nodes.ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    command = line.split(":", 1)[1].strip()
    command = command.replace("${PORT:-8000}", str(port)).replace("${WEB_CONCURRENCY:-3}", "1")
    assert "$" not in command, f"unexpected variable in the Procfile: {command}"
    return shlex.split(command)


@pytest.mark.django_db(transaction=True)
def test_a_real_gunicorn_access_log_has_no_token(tmp_path):
    need(connection.vendor == "postgresql", "the gunicorn test needs PostgreSQL (DATABASE_URL)")
    need(redis_available(), "the gunicorn test needs Redis (REDIS_URL)")
    db = connection.settings_dict
    env = nodes.production_env(
        database_url=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        redis_url=redis_url(),
        static_root=tmp_path / "static",
    )
    nodes.collectstatic(env)
    port = nodes.free_port()
    args = procfile_web_command(port)
    assert "--access-logfile" in args and "--logger-class" in args
    log = tmp_path / "web.log"
    base = f"http://127.0.0.1:{port}"
    tokens = [_token() for _ in TOKEN_ROUTES]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=nodes.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            nodes.wait_http(f"{base}/healthz")
            for route, token in zip(TOKEN_ROUTES, tokens, strict=True):
                requests.get(
                    f"{base}{route.format(token)}?again={route.format(token)}",
                    headers={"Referer": f"{base}{route.format(token)}"},
                    allow_redirects=False,
                    timeout=10,
                )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
    text = log.read_text()
    access_lines = [
        line
        for line in text.splitlines()
        if re.search(r'"GET /(invite|password|magic|verify|sign-in)', line)
    ]
    assert len(access_lines) == len(TOKEN_ROUTES), text  # the access log is on, one line each
    for token in tokens:
        assert token not in text
    assert all(line.count("[redacted]") >= 3 for line in access_lines), access_lines
