"""Impersonation (issue 26): who may view the dashboard as whom, and the
one gate that keeps a read-only credential from changing anything.

`check_can_impersonate` is the named guard of starting (and, asked again
on every request, of carrying on: a demoted operator's view ends).
`check_may_write` is asked by `core.services.service` before every
service runs (registered in `rbac.apps`), so no service -- whichever entry
point calls it, with or without `actor=` -- changes anything while the
request views as someone else; no check is written at a call site."""

from __future__ import annotations

from django.conf import settings

from audit import events
from rbac import credentials
from rbac.permissions import IMPERSONATE_PERMISSION
from rbac.policies.base import _deny, check_user_action

START_ACTION = events.IMPERSONATION_STARTED
REFUSED_ACTION = events.IMPERSONATION_REFUSED

# Services that only end the view or the session: allowed while viewing as
# someone, since they give the operator's own dashboard back.
ALWAYS_ALLOWED = frozenset(
    {
        "accounts.services.impersonation.impersonation_stop",
    }
)

# What IMPERSONATION_ALLOW_WRITES may let through: changes that touch no
# credential, address, factor, key, ownership, link, invitation or job.
# Everything else stays refused (fail closed: a new service is sensitive
# until it is listed here).
NON_SENSITIVE = frozenset(
    {
        "accounts.services.account.account_profile_update",
        "accounts.services.users.user_update",
        "accounts.services.users.user_ban",
        "accounts.services.users.user_unban",
        "accounts.services.users.user_disable",
        "accounts.services.users.user_enable",
        "accounts.services.lockout.user_unlock",
        "accounts.services.emails.email_retry",
    }
)


def _service_name(service) -> str:
    return f"{service.__module__}.{service.__name__}"


def _viewed_label(user) -> str:
    return getattr(user, "display_name", "") or getattr(user, "email", "") or "this user"


def check_can_impersonate(actor, user) -> None:
    """Viewing the dashboard as `user`: from a dashboard session only
    (never an API key, a job or the shell), never while already viewing as
    someone, `users:impersonate`, never yourself, never the owner, strict
    hierarchy (never a peer)."""
    action = START_ACTION
    kind = getattr(getattr(actor, "credential", None), "kind", None)
    if getattr(actor, "acting_for", None) is not None or kind == credentials.IMPERSONATION:
        raise _deny(
            "impersonation_nested",
            "You are already viewing as someone; stop first.",
            action=action,
            actor=actor,
            target=user,
        )
    if kind != credentials.SESSION:
        raise _deny(
            "impersonation_dashboard_only",
            "Viewing as another user is possible from the dashboard only, not through "
            "an API key or a background job.",
            action=action,
            actor=actor,
            target=user,
        )
    check_user_action(
        actor, user, IMPERSONATE_PERMISSION, action=action, verb="view as", past="viewed as"
    )


def check_may_write(actor, service) -> None:
    """The write gate every service passes (see the module docstring): an
    actor viewing as someone changes nothing, unless the setting
    IMPERSONATION_ALLOW_WRITES lets through the non-sensitive changes. The
    actor is the service's `actor=`, else the request's door's (a token
    page's service takes none)."""
    if actor is None:
        actor = credentials.request_actor()
    if not getattr(actor, "read_only", False):
        return
    name = _service_name(service)
    if name in ALWAYS_ALLOWED:
        return
    if getattr(settings, "IMPERSONATION_ALLOW_WRITES", False) and name in NON_SENSITIVE:
        return
    raise _deny(
        "impersonation_read_only",
        f"You are viewing as {_viewed_label(actor.acting_for)}, which is read-only: nothing "
        f"was changed ({service.__name__.replace('_', ' ')}). Stop viewing as them to act "
        "as yourself.",
        action=REFUSED_ACTION,
        actor=actor,
        target=actor.acting_for,
    )
