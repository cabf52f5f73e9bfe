"""The shape every mutating service shares."""

from __future__ import annotations

import functools
from contextvars import ContextVar

from django.db import OperationalError, transaction

_depth: ContextVar[int] = ContextVar("service_depth", default=0)


def service(func):
    """Run a service atomically and put refusals on the record.

    A guard raises `rbac.policies.PolicyDenied`, which rolls the service's
    transaction back. The denial is then written as an audit event with
    outcome `denied` by the outermost service, after its transaction has
    rolled back, so that the record of the refusal survives it.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from rbac.policies import PolicyDenied

        token = _depth.set(_depth.get() + 1)
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except PolicyDenied as exc:
            if _depth.get() == 1 and not exc.recorded:
                exc.record()
            raise
        finally:
            _depth.reset(token)

    return wrapper


class ServiceBusy(Exception):
    """A shared resource (the audit chain's lock, a statement over its time
    budget) was not available within the bounded wait. Nothing was changed;
    the caller may retry. Pages answer 503 and the API
    `{"error": "busy", "detail": ...}` with a Retry-After header."""

    retry_after = 5

    def __init__(
        self,
        message: str = "The server is busy right now; nothing was changed. "
        "Please try again in a few seconds.",
    ):
        super().__init__(message)
        self.message = message


# PostgreSQL SQLSTATEs that mean "waited too long", not "broken":
# lock_not_available (lock_timeout) and query_canceled (statement_timeout).
BUSY_SQLSTATES = frozenset({"55P03", "57014"})


def as_busy(exc: BaseException) -> ServiceBusy | None:
    """The `ServiceBusy` an exception stands for (itself, or a database
    wait that ran out of time), or None for any other error."""
    if isinstance(exc, ServiceBusy):
        return exc
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if isinstance(exc, OperationalError) and sqlstate in BUSY_SQLSTATES:
        return ServiceBusy()
    return None
