"""One guard, one action: the same actor, target and arguments reach the
same outcome through every entry point that offers the action -- the user
page, the API, the API's batch, the HTML batch and Django admin.

What each entry point did is read back from the audit log, which every
one of them writes through the service: an allowed call leaves the
action's success event (compared by action code and `changes` keys); a
refusal leaves a denied event whose reason starts with the refusal code.
Cases are generated across the personas with hypothesis; each entry point
runs from the same starting state (a savepoint rolled back after it)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from accounts.admin import UserAdmin
from accounts.models import User
from rbac.selectors import user_effective_permissions
from tests.security.equivalence import (
    NARROW_KEYS,
    PERSONAS,
    Rollback,
    actor_and_scopes,
    key_headers,
    people,
    person_of,
    run,
    session,
)

pytestmark = pytest.mark.django_db(transaction=False)

# action -> (audit code, page path, API call, admin action name or None,
#            a state the target starts in)
ACTIONS = {
    "ban": ("accounts.user.banned", "ban", ("post", "ban"), "user_ban_action", {}),
    "unban": (
        "accounts.user.unbanned",
        "unban",
        ("post", "unban"),
        "user_unban_action",
        {"banned_until": "future"},
    ),
    "disable": (
        "accounts.user.disabled",
        "disable",
        ("post", "disable"),
        "user_disable_action",
        {},
    ),
    "enable": (
        "accounts.user.enabled",
        "enable",
        ("post", "enable"),
        "user_enable_action",
        {"disabled_at": "now"},
    ),
    "unlock": (
        "accounts.user.unlocked",
        "unlock",
        ("post", "unlock"),
        None,
        {"locked": "now"},
    ),
    "delete": ("accounts.user.deleted", "delete", ("delete", ""), "user_delete_action", {}),
    "restore": (
        "accounts.user.restored",
        "restore",
        ("post", "restore"),
        None,
        {"deleted_at": "now"},
    ),
    "force_password_change": (
        "accounts.user.password_change_forced",
        "force-password-change",
        ("post", "force-password-change"),
        None,
        {},
    ),
}

ADMIN_PERMISSION = {a.__name__: a.required_permission for a in UserAdmin.actions}


def _set_state(target, state: dict) -> None:
    now = timezone.now()
    if state.get("locked"):
        from axes.models import AccessAttempt
        from django.conf import settings as django_settings

        state = {k: v for k, v in state.items() if k != "locked"}
        AccessAttempt.objects.create(
            username=target.email,
            ip_address="198.51.100.9",
            user_agent="guesser",
            get_data="",
            post_data="",
            http_accept="*/*",
            path_info="/login/",
            failures_since_start=django_settings.AXES_FAILURE_LIMIT,
            attempt_time=now,
        )
    values = {
        k: (now + timezone.timedelta(days=1) if v == "future" else now) for k, v in state.items()
    }
    if values:
        User.objects.filter(pk=target.pk).update(**values)


@settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    actor_name=st.sampled_from([*PERSONAS, *NARROW_KEYS]),
    target_name=st.sampled_from(list(PERSONAS)),
    action=st.sampled_from(list(ACTIONS)),
)
@example(actor_name="admin", target_name="member", action="unlock")
@example(actor_name="manager", target_name="admin", action="unlock")
@example(actor_name="admin_ban_key", target_name="member", action="unlock")
def test_every_entry_point_reaches_the_same_guard_and_writes_the_same_event(
    owner, actor_name, target_name, action
):
    code, page, (api_method, api_path), admin_action, state = ACTIONS[action]
    # A banned, disabled or deleted actor cannot sign in at all.
    person = person_of(actor_name)
    assume(not (state and person == target_name))
    try:
        with transaction.atomic():
            everyone = people()
            target = everyone[target_name]
            actor, key_scopes, sessions = actor_and_scopes(everyone, actor_name)
            headers = key_headers(actor, key_scopes)
            api = Client()
            api_url = f"/api/admin/users/{target.pk}" + (f"/{api_path}" if api_path else "")
            body = {"reason": "equivalence"}

            ways = {
                "api": lambda: getattr(api, api_method)(
                    api_url, data=body, content_type="application/json", **headers
                ),
                "batch api": lambda: api.post(
                    f"/api/admin/users/batch/{action.replace('_', '-')}",
                    data={"user_ids": [str(target.pk)], "reason": "equivalence"},
                    content_type="application/json",
                    **headers,
                ),
            }
            if sessions:
                browser = session(actor)
                ways["page"] = lambda: browser.post(
                    f"/users/{target.pk}/{page}/",
                    {"duration": "permanent", "reason": "equivalence"},
                )
                ways["batch page"] = lambda: browser.post(
                    "/users/batch/",
                    {
                        "action": action,
                        "ids": [str(target.pk)],
                        "execute": "1",
                        "reason": "equivalence",
                        "ban-duration": "permanent",
                    },
                )
                needed = ADMIN_PERMISSION.get(admin_action)
                if needed and actor.is_staff and needed in user_effective_permissions(actor):
                    # Django admin offers the action only to holders of its permission.
                    ways["admin"] = lambda: browser.post(
                        "/admin/accounts/user/",
                        {"action": admin_action, "_selected_action": [str(target.pk)]},
                    )

            outcomes = {
                name: run(fn, target, code, lambda: _set_state(target, state))
                for name, fn in ways.items()
            }
            raise Rollback(outcomes)
    except Rollback as done:
        outcomes = done.args[0]
    assert all(o[0] != "no event" for o in outcomes.values()), outcomes
    assert len(set(outcomes.values())) == 1, (actor_name, target_name, action, outcomes)
