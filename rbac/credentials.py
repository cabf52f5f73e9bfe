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

This module imports no app. The doors build an `rbac.actor.Actor` holding
the person and the credential; guards read both from it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

SESSION = "session"
API_KEY = "api_key"
CONSOLE = "console"
# A dashboard session viewing as another user (issue 26): read-only, never a
# fresh proof, until `expires_at`.
IMPERSONATION = "impersonation"
# Work a person queued and a worker runs later (a batch or import job):
# the scopes of the credential that queued it, never a fresh proof.
JOB = "job"
# Scheduled work no person queued (a beat task carrying out a rule: the
# purge of users whose restore window ended, a self-deletion falling due):
# no person, no permission; only the guards written for it let it through.
SYSTEM = "system"
# Inside a request, a user object that no entry point gave a credential.
UNATTACHED = "unattached"
# A request nobody is signed in to.
ANONYMOUS = "anonymous"

# Whether this code runs inside a web request (set by
# rbac.middleware.RequestCredentialMiddleware for each one).
_in_request: ContextVar[bool] = ContextVar("hv_in_request", default=False)
# The actor the request's door built (a dashboard session's, possibly a
# read-only impersonation), for the services' write gate: a service called
# without `actor=` (a token page's) still runs inside this door.
_request_actor: ContextVar[object] = ContextVar("hv_request_actor", default=None)


@dataclass(frozen=True)
class Credential:
    kind: str
    # None: every scope (sessions, the shell).
    scopes: frozenset[str] | None = None
    # Answers whether the person proved who they are recently, through this
    # credential. Looked up only when a guard asks (one query for sessions).
    recent_proof: Callable[[], bool] | None = None
    # Where it came from: the dashboard session's key, the API key's id
    # (guards about "other credentials" compare it), or the job that acts
    # through it (the job's own credential is the one that queued it).
    session_key: str | None = None
    key_id: object = None
    # The API key's name, for the audit row of what it does (never the key).
    key_name: str = ""
    job_id: object = None
    # Impersonation: when it ends (an aware datetime).
    expires_at: object = None

    @property
    def is_api_key(self) -> bool:
        return self.kind == API_KEY

    def has_recent_proof(self) -> bool:
        if self.kind == IMPERSONATION:
            # Viewing as someone never proves that someone.
            return False
        if self.kind == CONSOLE:
            # Whoever runs a command or a task already holds the server.
            return True
        return bool(self.recent_proof and self.recent_proof())


# Code that calls a service directly outside any request (commands, tasks,
# tests) acts through the operator's shell.
CONSOLE_CREDENTIAL = Credential(CONSOLE)
# Inside a request the shell is not an option: a bare user object (say, the
# actor loaded again from the database instead of request.actor) acts with
# no permission and no fresh proof -- fail closed (rbac.actor.as_actor).
UNATTACHED_CREDENTIAL = Credential(UNATTACHED)
SYSTEM_CREDENTIAL = Credential(SYSTEM, frozenset())
ANONYMOUS_CREDENTIAL = Credential(ANONYMOUS)


def in_request() -> bool:
    """Whether the running code serves a web request."""
    return _in_request.get()


def set_request_actor(actor) -> None:
    """The door's actor for the rest of this request (`request_scope`
    forgets it when the request ends)."""
    _request_actor.set(actor)


def request_actor():
    """The actor the current request's door built, or None."""
    return _request_actor.get()


@contextmanager
def request_scope():
    """Mark the code run inside the block as serving a web request."""
    token = _in_request.set(True)
    actor_token = _request_actor.set(None)
    try:
        yield
    finally:
        _request_actor.reset(actor_token)
        _in_request.reset(token)
