"""When cached figures go stale: the overview caches its user and invitation
figures (and the users list its filter's roles and organizations, and an
organization administrator's member count) under a
generation number per family, and every committed audit
event of an action that changes them bumps it (`audit.services.record_many`
calls `figures_changed` after commit). Lives beside the audit log, below the
pages that read it, so the audit services need not import a page module."""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

# Which committed audit actions make which cached figure stale. Reads
# (".listed", ".viewed", exports) and denied attempts change nothing.
STALE_ON = {
    "users": frozenset(
        {
            "accounts.user.created",
            "accounts.user.banned",
            "accounts.user.unbanned",
            "accounts.user.disabled",
            "accounts.user.enabled",
            "accounts.user.deleted",
            "accounts.user.restored",
            "accounts.user.erased",
            "accounts.owner.bootstrapped",
            "accounts.invitation.accepted",
            "accounts.email.verified",
            "accounts.password.changed",
            "accounts.password.reset_completed",
            "accounts.magic_link.used",
        }
    ),
    "invitations": frozenset(
        {
            "accounts.invitation.created",
            "accounts.invitation.imported",
            "accounts.invitation.resent",
            "accounts.invitation.revoked",
            "accounts.invitation.accepted",
        }
    ),
    # Who is a member of which organization, and who of them is deleted:
    # an organization administrator's member count on the users list
    # (`accounts.selectors.counting`).
    "members": frozenset(
        {
            "rbac.membership.added",
            "rbac.membership.removed",
            "rbac.organization.deleted",
            "accounts.invitation.accepted",
            "accounts.user.created",
            "accounts.user.deleted",
            "accounts.user.restored",
            "accounts.user.erased",
            "accounts.user.purged",
        }
    ),
    # The users list filter's choices (`accounts.views.filter_choices`).
    "roles": frozenset({"rbac.role.created", "rbac.role.updated", "rbac.role.deleted"}),
    "organizations": frozenset(
        {
            "rbac.organization.created",
            "rbac.organization.updated",
            "rbac.organization.deleted",
        }
    ),
}


def _generation_key(family: str) -> str:
    return f"overview:generation:{family}"


def figures_changed(actions) -> None:
    """Called after a commit with the audit actions it recorded: bump the
    generation of every figure family they touch."""
    actions = set(actions)
    for family, stale_on in STALE_ON.items():
        if actions & stale_on:
            key = _generation_key(family)
            try:
                _bump(key)
            except Exception as exc:  # the cache is down: figures may lag a minute
                logger.warning("could not mark the %s figures stale: %s", family, exc)


def _bump(key: str) -> None:
    """One more generation: a single INCR on Redis (`core.cache`), which
    starts a missing key at 1; any other cache reads, then writes."""
    if hasattr(cache, "bump"):
        cache.bump(key)
        return
    try:
        cache.incr(key)
    except ValueError:  # not set yet (or evicted)
        cache.set(key, 1, None)


def figure_generations() -> dict[str, int]:
    """The current generation of each figure family (part of the cache key)."""
    keys = generation_keys(*STALE_ON)
    return generations_in(cache.get_many(list(keys.values())), keys)


def generation_keys(*families: str) -> dict[str, str]:
    """{family: the cache key of its generation}, for a reader that asks
    for them with its own keys in one round trip (`generations_in`)."""
    return {family: _generation_key(family) for family in families}


def generations_in(found: dict, keys: dict[str, str]) -> dict[str, int]:
    """{family: generation} from a `cache.get_many` answer holding `keys`."""
    return {family: found.get(key, 0) for family, key in keys.items()}
