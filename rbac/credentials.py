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

from collections.abc import Callable
from dataclasses import dataclass

SESSION = "session"
API_KEY = "api_key"
CONSOLE = "console"

_ATTR = "_hv_credential"


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


# Code that calls a service directly (commands, tasks, tests) acts through
# the operator's shell.
CONSOLE_CREDENTIAL = Credential(CONSOLE)


def attach(user, credential: Credential) -> None:
    """Record that `user` (a request's user object) acts through `credential`."""
    setattr(user, _ATTR, credential)


def credential_of(user) -> Credential:
    return getattr(user, _ATTR, None) or CONSOLE_CREDENTIAL


def scopes_of(user) -> list[str] | None:
    """The scopes `user` acts with now (None: every scope), to be stored
    with work that runs later (a background job) and given back to it."""
    scopes = credential_of(user).scopes
    return sorted(scopes) if scopes is not None else None
