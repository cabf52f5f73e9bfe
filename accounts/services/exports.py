"""Exports about users: the users list as CSV (recorded) and one person's
data (a GDPR access request)."""

from __future__ import annotations

from accounts.selectors import user_data_export
from accounts.services.common import lock_user
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


@service
def user_list_exported(*, actor, filters: dict) -> None:
    """Record a CSV export of the users list (what was exported, by whom)."""
    action = events.USERS_EXPORTED
    policies.check_can_export_users(actor)
    audit.record(
        action,
        actor=actor,
        target=audit.Target("user_list", "", "Users list"),
        changes={"filters": [None, {k: str(v) for k, v in filters.items() if v}]},
    )


@service
def user_data_access_request(*, actor, user) -> dict:
    """Answer a GDPR access request: what is recorded about `user`,
    returned to the caller and recorded as an audit event (with the
    sections given). An action on the user: `check_can_export_user` (owner
    protection, hierarchy) on the locked row; the sessions and the audit
    events are in it only for an actor with sessions:read and audit:read
    (`export_sections`)."""

    action = events.USER_DATA_EXPORTED
    user = lock_user(user)
    policies.check_can_export_user(actor, user)
    sections = policies.export_sections(actor)
    data = user_data_export(user, **sections)
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={"omitted": sorted(data["omitted"])} if data["omitted"] else None,
    )
    return data
