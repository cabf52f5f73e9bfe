"""The actor is a person through a credential.

A request acts as a user *through* something: a dashboard session, an API
key, or the operator's shell (management commands, Celery tasks acting for
the user who queued them). The credential decides two things the guards in
`rbac.policies` need besides the user's own permissions:

- its scopes: the request's effective permissions are the user's
  permissions intersected with them (a session and the shell have every
  scope; an API key has its own);
- whether the person proved who they are recently ("fresh proof"), which
  sensitive changes to one's own account require: the dashboard's
  re-authentication window for a session, the current password sent with
  the request for an API key.

This module imports no app: entry points attach a credential, guards read it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SESSION = "session"
API_KEY = "api_key"
CONSOLE = "console"
# Work a person queued and a worker runs later (a batch or import job):
# the scopes of the credential that queued it, never a fresh proof.
JOB = "job"
# Inside a request, a user object that no entry point gave a credential.
UNATTACHED = "unattached"

_ATTR = "_hv_credential"
# Whether this code runs inside a web request (set by
# rbac.middleware.RequestCredentialMiddleware for each one).
_in_request: ContextVar[bool] = ContextVar("hv_in_request", default=False)


@dataclass(frozen=True)
class Credential:
    kind: str
    # None: every scope (sessions, the shell).
    scopes: frozenset[str] | None = None
    # Answers whether the person proved who they are recently, through this
    # credential. Looked up only when a guard asks (one query for sessions).
    recent_proof: Callable[[], bool] | None = None
    # The API key itself, for guards about "other credentials".
    key_id: object = None

    @property
    def is_api_key(self) -> bool:
        return self.kind == API_KEY

    def has_recent_proof(self) -> bool:
        if self.kind == CONSOLE:
            # Whoever runs a command or a task already holds the server.
            return True
        return bool(self.recent_proof and self.recent_proof())


# Code that calls a service directly outside any request (commands, tasks,
# tests) acts through the operator's shell.
CONSOLE_CREDENTIAL = Credential(CONSOLE)
# Inside a request the shell is not an option: a user object without a
# credential (say, the actor loaded again from the database instead of
# request.user) acts with no fresh proof -- fail closed.
UNATTACHED_CREDENTIAL = Credential(UNATTACHED)


def attach(user, credential: Credential) -> None:
    """Record that `user` (a request's user object) acts through `credential`."""
    setattr(user, _ATTR, credential)


def credential_of(user) -> Credential:
    credential = getattr(user, _ATTR, None)
    if credential is not None:
        return credential
    if _in_request.get():
        logger.warning("a request acts as user %s without a credential", getattr(user, "pk", None))
        return UNATTACHED_CREDENTIAL
    return CONSOLE_CREDENTIAL


@contextmanager
def request_scope():
    """Mark the code run inside the block as serving a web request."""
    token = _in_request.set(True)
    try:
        yield
    finally:
        _in_request.reset(token)


def scopes_of(user) -> list[str] | None:
    """The scopes `user` acts with now (None: every scope), to be stored
    with work that runs later (a background job) and given back to it."""
    scopes = credential_of(user).scopes
    return sorted(scopes) if scopes is not None else None
