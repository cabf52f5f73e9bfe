"""The shape every mutating service shares, and the refusals services
raise: `PolicyDenied` (a guard said no), `NotFound` (the object is gone),
`ServiceBusy` (a shared resource was not free within its bounded wait).
Entry points turn them into answers: 403/409 and a form error, 404, 503.

This module imports no app. A refusal is put on the audit record through
the recorder the audit app registers at start-up (`set_denial_recorder`),
so the bottom layer does not import the audit log."""

from __future__ import annotations

import functools
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, transaction

_depth: ContextVar[int] = ContextVar("service_depth", default=0)
_recorder: list = []
_actor_adapter: list = []
_write_gate: list = []


def set_denial_recorder(record) -> None:
    """`record(denial)` writes a refusal to the audit log (the audit app
    registers it when Django starts)."""
    _recorder[:] = [record]


def set_actor_adapter(adapt) -> None:
    """`adapt(actor)` turns what a caller passed as `actor=` into the actor
    value guards read (`rbac.actor.as_actor`, registered when Django
    starts): a service called with a bare user -- a test, the shell --
    gets the operator's shell outside a request, nothing inside one."""
    _actor_adapter[:] = [adapt]


def set_write_gate(gate) -> None:
    """`gate(actor, service)` is asked before every service runs and raises
    `PolicyDenied` when the actor may change nothing (a read-only
    impersonation: `rbac.policies.impersonation.check_may_write`,
    registered when Django starts)."""
    _write_gate[:] = [gate]


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

    The `actor=` argument is made an actor once, here (see
    `set_actor_adapter`). A guard raises `rbac.policies.PolicyDenied`, which rolls the service's
    transaction back. The denial is then written as an audit event with
    outcome `denied` by the outermost service, after its transaction has
    rolled back, so that the record of the refusal survives it.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _actor_adapter and "actor" in kwargs:
            kwargs["actor"] = _actor_adapter[0](kwargs["actor"])
        token = _depth.set(_depth.get() + 1)
        try:
            if _write_gate:
                _write_gate[0](kwargs.get("actor"), wrapper)
            with transaction.atomic(), _prepared_statements():
                return func(*args, **kwargs)
        except PolicyDenied as exc:
            if _depth.get() == 1 and not exc.recorded:
                exc.record()
            raise
        finally:
            _depth.reset(token)

    return wrapper


def _prepared_statements():
    """Within the outermost service, statements run again and again are
    prepared where the database offers it (`statements_prepared` of
    handover's PostgreSQL backend; DATABASE_PREPARE_THRESHOLD)."""
    return getattr(transaction.get_connection(), "statements_prepared", nullcontext)()


class ServiceBusy(Exception):
    """A shared resource (the audit chain's lock, a statement over its time
    budget, the database itself) was not available within the bounded
    wait. Nothing was changed; the caller may retry. Pages answer 503 and
    the API `{"error": code, "detail": ...}` with a Retry-After header.
    `code` is "busy" for a wait that ran out, "unavailable" when the
    database did not answer, "read_only" when it refuses writes."""

    retry_after = 5
    code = "busy"

    def __init__(
        self,
        message: str = "The server is busy right now; nothing was changed. "
        "Please try again in a few seconds.",
        *,
        code: str = "busy",
        retry_after: int = 5,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


def database_unavailable() -> ServiceBusy:
    return ServiceBusy(
        "The database is not answering right now; your change may not have been "
        "saved. Please try again in a few seconds.",
        code="unavailable",
        retry_after=5,
    )


def database_read_only() -> ServiceBusy:
    return ServiceBusy(
        "The database is read-only right now (maintenance or a failover); nothing "
        "was changed. Please try again later.",
        code="read_only",
        retry_after=30,
    )


# PostgreSQL SQLSTATEs that mean "waited too long", not "broken":
# lock_not_available (lock_timeout) and query_canceled (statement_timeout).
BUSY_SQLSTATES = frozenset({"55P03", "57014"})
# read_only_sql_transaction: a write to a database that is read-only (a
# standby after a failover, default_transaction_read_only in a maintenance
# window).
READ_ONLY_SQLSTATE = "25006"


def as_busy(exc: BaseException) -> ServiceBusy | None:
    """The `ServiceBusy` an exception stands for, or None for any other
    error: itself; a database wait that ran out of time (busy); a write the
    database refused as read-only; a database that could not be reached or
    dropped the connection (OperationalError without a SQLSTATE of its own,
    or one of operator intervention / resources / system errors, and
    InterfaceError: a connection already closed)."""
    if isinstance(exc, ServiceBusy):
        return exc
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)
    if sqlstate == READ_ONLY_SQLSTATE and isinstance(exc, DatabaseError):
        return database_read_only()
    if isinstance(exc, OperationalError) and sqlstate in BUSY_SQLSTATES:
        return ServiceBusy()
    if isinstance(exc, InterfaceError):
        return database_unavailable()
    if isinstance(exc, OperationalError) and (
        sqlstate is None or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES
    ):
        return database_unavailable()
    return None


# SQLSTATE classes of an OperationalError that mean the server cannot serve:
# 08 connection exception, 53 insufficient resources, 57 operator
# intervention (admin shutdown, cannot connect now), 58 system error.
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})


@contextmanager
def unless_read_only():
    """Bookkeeping writes (a session's "last seen", a key's "last used")
    that must not turn a read into an error: while the database is
    read-only the write is skipped (in a savepoint, so an enclosing
    transaction carries on); any other error is raised."""
    try:
        with transaction.atomic():
            yield
    except DatabaseError as exc:
        busy = as_busy(exc)
        if busy is None or busy.code != "read_only":
            raise


def refusal_text(exc: BaseException) -> str:
    """The words every entry point shows for a refusal -- page, API, batch,
    Django admin, command: a ValidationError's messages (their parameters
    filled in) joined, or a guard's (or any service exception's) message."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)
