"""Guards for webhook endpoints. `webhooks:read` sees endpoints and their
delivery logs; `webhooks:manage` adds, changes, removes, rotates, tests
and replays. Both are global-only: an endpoint receives events about
everyone, so only a global grant may hold them (every grant is global
until organizations land; then a scoped grant never confers them)."""

from __future__ import annotations

from audit import events
from rbac.policies.base import check_permission


def check_can_read_webhooks(actor, *, action: str = events.ENDPOINT_LISTED) -> None:
    check_permission(actor, "webhooks:read", action=action)


def check_can_manage_webhooks(actor, *, action: str, target=None) -> None:
    check_permission(actor, "webhooks:manage", action=action, target=target)
