"""Fixtures for the browser journeys."""

from __future__ import annotations

import pytest

# The real-process fixtures of the outbox reliability suite: Redis broker,
# aiosmtpd, a Celery worker process (imported so pytest registers them here).
from tests.accounts.test_emails_reliability import (  # noqa: F401 (fixtures)
    broker,
    services_ready,
    smtp_server,
    worker,
)
from tests.conftest import make_user


@pytest.fixture
def mailing_site(live_server, settings, builtin_roles, worker, smtp_server):  # noqa: F811
    """The live site with its owner (owner@example.com) and a Celery worker
    running that delivers its email to `smtp_server`; returns the worker."""
    settings.SITE_URL = live_server.url
    make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")
    return worker.start()
