"""Log injection (ASVS 7.3.1 / 5.0 16.4.1): CR/LF and other control
characters in names, emails and paths never break an audit row, an audit
export line, or a log line written through the project's log format."""

from __future__ import annotations

import csv
import io
import json
import logging
import re

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from accounts.models import User
from audit.models import AuditEvent
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

EVIL_NAME = "Eve\r\n2026-01-01 00:00:00,000 INFO audit owner granted\x1b[31m\x00\x07\u2028x"
EVIL_EMAILS = [
    "eve@example.com\r\nINFO forged",
    "eve\n@example.com",
    "eve@example.com\x1b[2J",
    "\x00eve@example.com",
]
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@pytest.fixture
def log_lines():
    """Everything logged during the test, formatted with the project's own
    formatter (settings.LOGGING "plain")."""
    spec = django_settings.LOGGING["formatters"]["plain"]
    formatter = import_string(spec.get("()", "logging.Formatter"))(spec["format"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    loggers = [logging.getLogger(n) for n in ("axes", "django.request", "accounts")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
    yield lambda: stream.getvalue().splitlines()
    root.removeHandler(handler)
    root.setLevel(old_level)
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def test_control_characters_never_break_a_log_line(client, owner, settings, log_lines):
    settings.MFA_POLICY = "none"
    client.raise_request_exception = False
    for email in EVIL_EMAILS:
        client.post("/login/", {"email": email, "password": "x"})
        client.post("/password/forgot/", {"email": email})
    # Axes logs the (normalised) account key of each failure.
    client.post("/login/", {"email": "eve@example.com", "password": "wrong\r\npassword"})
    client.get("/no-such-page/%0d%0a2026-01-01%2000:00:00,000%20ERROR%20forged/")
    logging.getLogger("accounts").warning("user said %s", EVIL_NAME)
    logging.getLogger("accounts").error("raw message " + EVIL_NAME)
    lines = log_lines()
    assert lines, "nothing was logged"
    broken = [line for line in lines if not LINE.match(line)]
    figure("log-injection[log lines]", lines=len(lines), broken=len(broken))
    assert not broken, broken
    assert not any(c in "".join(lines) for c in "\x1b\x00\x07\u2028")


def test_control_characters_never_break_an_audit_row_or_export(client_for, owner, settings):
    from accounts.services.users import user_create, user_update

    settings.MFA_POLICY = "none"
    user = user_create(actor=owner, email="eve@example.com", name="Eve", password=None)
    # NUL is refused by every form (Django's ProhibitNullCharactersValidator)
    # and by PostgreSQL; every other control character is stored as typed.
    name = EVIL_NAME.replace("\x00", "")
    user_update(actor=owner, user=user, name=name)
    user = User.objects.get(pk=user.pk)
    events = AuditEvent.objects.count()
    client = client_for(owner)
    jsonl = b"".join(client.get("/audit/export.jsonl").streaming_content).decode()
    rows = jsonl.splitlines()
    assert len(rows) == events + 1  # one line per event (the export records itself first)
    parsed = [json.loads(row) for row in rows]
    changed = [p for p in parsed if p["action"] == "accounts.user.updated"]
    assert changed[0]["changes"]["name"] == ["Eve", name.strip()]  # the data, intact
    csv_text = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    records = list(csv.reader(io.StringIO(csv_text)))
    assert len(records) == 1 + AuditEvent.objects.count()  # a header, then one record per event
    figure("log-injection[audit]", events=events, jsonl_lines=len(rows), csv_records=len(records))
    # The audit list shows the name escaped, on one row.
    page = client.get("/audit/").content.decode()
    assert "\x1b" not in page and "\x00" not in page
