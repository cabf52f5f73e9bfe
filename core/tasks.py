"""Waking a Celery task by its registered name, behind a breaker.

Services queue work after commit (an email to send, a job to run) but must
not import the task modules: those are entry points, which import the
services. Each app registers its tasks when Django starts (its AppConfig
imports its `tasks` module), and a service wakes one by name here.
Respects CELERY_TASK_ALWAYS_EAGER like `task.delay`.

The breaker (issue 28, F4): after a publish fails, this process does not
try the broker again for BROKER_RETRY_AFTER_SECONDS -- `wake` raises
`BrokerUnavailable` at once instead of paying the broker's timeouts on
every call. Nothing is lost: whatever was to be published is a committed
row (an outbox email, a job) that its sweep queues again once the broker
answers. The cache shares the breaker when it lives on the same Redis
(core/cache.py): a failure of either skips both.
"""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)
_last_failure = 0.0


class BrokerUnavailable(BrokerError):
    """Publishing was skipped: the broker failed moments ago."""


def broker_available() -> bool:
    """Whether the broker is worth trying (no failure in the last
    BROKER_RETRY_AFTER_SECONDS in this process)."""
    if not _last_failure:
        return True
    return time.monotonic() - _last_failure >= settings.BROKER_RETRY_AFTER_SECONDS


def note_broker_failure(exc: BaseException) -> None:
    """Open the breaker (logged once per spell)."""
    global _last_failure
    now = time.monotonic()
    if not _last_failure or now - _last_failure > 60:
        logger.warning("broker unavailable (%s); publishing skipped for a while", exc)
    _last_failure = now


def reset_breaker() -> None:
    global _last_failure
    _last_failure = 0.0


def wake(name: str, *args, countdown: float | None = None) -> None:
    """`tasks.<name>.delay(*args)` without importing the task module; with
    `countdown`, run no sooner than that many seconds from now (inline, at
    once, when tasks run eagerly). Raises what publishing raises (the
    broker may be down), or `BrokerUnavailable` without trying while the
    breaker is open."""
    task = current_app.tasks[name]
    if task.app.conf.task_always_eager:
        task.delay(*args)
        return
    if not broker_available():
        raise BrokerUnavailable("the broker failed moments ago; not tried again yet")
    try:
        task.apply_async(args, countdown=countdown)
    except Exception as exc:
        note_broker_failure(exc)
        raise
