"""The users list filter's roles and organizations, cached: two queries of
every list page (~0.3-0.6 ms with their ORM time, issue 29) for lists that
change only through the audited role and organization services. Each is
kept with the generation of its family (`audit.figures`) it was read at,
and those services' committed events bump the generation, so a change
shows at the next page; the timeout bounds what an unaudited write (a data
migration, the shell) leaves stale. The generations and both lists are
read in one round trip."""

from __future__ import annotations

from django.core.cache import cache

from accounts.forms.users import role_choices
from audit.figures import generation_keys, generations_in

CHOICES_SECONDS = 300


def filter_choices(actor, *, organization_limit: int) -> tuple[list, list]:
    """(roles, organizations): every role's (slug, name), the owner's too,
    by name; and the first `organization_limit` + 1 organizations `actor`
    sees as (id, slug, name), by name. The organizations' key names the
    actor's `organization_reach`, so no one is shown another's list."""
    generation = generation_keys("roles", "organizations")
    role_key = "users:filter:roles:v3"
    organization_key = (
        f"users:filter:organizations:v3:{actor.organization_reach}:{organization_limit}"
    )
    found = cache.get_many([*generation.values(), role_key, organization_key])
    current = generations_in(found, generation)
    missing = {}
    roles = _if_current(found.get(role_key), current["roles"])
    if roles is None:
        roles = role_choices(include_owner=True)
        missing[role_key] = (current["roles"], roles)
    organizations = _if_current(found.get(organization_key), current["organizations"])
    if organizations is None:
        visible = actor.visible_organizations().order_by("name")
        organizations = list(visible.values_list("id", "slug", "name")[: organization_limit + 1])
        missing[organization_key] = (current["organizations"], organizations)
    if missing:
        cache.set_many(missing, CHOICES_SECONDS)
    return roles, organizations


def _if_current(kept, generation: int):
    """The list `kept` as (generation, list), when read at `generation`.
    (A list read at an older generation, or stored by a slower page after a
    newer one, is read again: never shown stale.)"""
    if kept is not None and kept[0] == generation:
        return kept[1]
    return None
