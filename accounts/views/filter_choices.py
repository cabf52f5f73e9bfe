"""The users list filter's roles and organizations, cached: two queries of
every list page (~0.3-0.6 ms with their ORM time, issue 29) for lists that
change only through the audited role and organization services. Each is
kept under the generation of its family (`audit.figures`), which those
services' committed events bump, so a change shows at the next page; the
timeout bounds what an unaudited write (a data migration, the shell) leaves
stale."""

from __future__ import annotations

from django.core.cache import cache

from accounts.forms.users import role_choices
from audit.figures import figure_generations

CHOICES_SECONDS = 300


def filter_choices(actor, *, organization_limit: int) -> tuple[list, list]:
    """(roles, organizations): every role's (slug, name), the owner's too,
    by name; and the first `organization_limit` + 1 organizations `actor`
    sees as (id, slug, name), by name. The organizations' key names the
    actor's `organization_reach`, so no one is shown another's list."""
    generations = figure_generations()
    role_key = f"users:filter:roles:v2:g{generations['roles']}"
    organization_key = (
        f"users:filter:organizations:v2:{actor.organization_reach}"
        f":{organization_limit}:g{generations['organizations']}"
    )
    found = cache.get_many([role_key, organization_key])
    missing = {}
    roles = found.get(role_key)
    if roles is None:
        roles = missing[role_key] = role_choices(include_owner=True)
    organizations = found.get(organization_key)
    if organizations is None:
        visible = actor.visible_organizations().order_by("name")
        organizations = missing[organization_key] = list(
            visible.values_list("id", "slug", "name")[: organization_limit + 1]
        )
    if missing:
        cache.set_many(missing, CHOICES_SECONDS)
    return roles, organizations
