"""The shape every mutating service shares, and the refusals services
raise: `PolicyDenied` (a guard said no), `NotFound` (the object is gone),
`ServiceBusy` (a shared resource was not free within its bounded wait).
Entry points turn them into answers: 403/409 and a form error, 404, 503.

This module imports no app. A refusal is put on the audit record through
the recorder the audit app registers at start-up (`set_denial_recorder`),
so the bottom layer does not import the audit log."""

from __future__ import annotations

import functools
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction

_depth: ContextVar[int] = ContextVar("service_depth", default=0)
_recorder: list = []


def set_denial_recorder(record) -> None:
    """`record(denial)` writes a refusal to the audit log (the audit app
    registers it when Django starts)."""
    _recorder[:] = [record]


class PolicyDenied(PermissionDenied):
    """A guard refused. `code` is stable for API clients; `message` is for
    people; `missing` lists permissions the actor lacks, when that is why."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str = "",
        actor=None,
        target=None,
        missing=(),
        batch_id=None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.actor = actor
        self.target = target
        self.missing = sorted(missing)
        self.batch_id = batch_id
        self.recorded = False

    def __str__(self):
        return self.message

    def record(self) -> None:
        """Write this refusal to the audit log (once)."""
        if not _recorder:
            raise RuntimeError("No denial recorder registered: is the audit app installed?")
        self.recorded = True
        _recorder[0](self)


class NotFound(Exception):
    """The object a service was asked to act on does not exist (any more).
    Pages and the API answer 404."""

    def __init__(self, message: str = "This does not exist (it may have been deleted)."):
        super().__init__(message)
        self.message = message


def service(func):
    """Run a service atomically and put refusals on the record.

    A guard raises `rbac.policies.PolicyDenied`, which rolls the service's
    transaction back. The denial is then written as an audit event with
    outcome `denied` by the outermost service, after its transaction has
    rolled back, so that the record of the refusal survives it.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
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


def refusal_text(exc: BaseException) -> str:
    """The words every entry point shows for a refusal -- page, API, batch,
    Django admin, command: a ValidationError's messages (their parameters
    filled in) joined, or a guard's (or any service exception's) message."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)
