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

import secrets

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts.admin import UserAdmin
from accounts.models import ApiKey, User
from accounts.services.api_keys import hash_key
from audit.models import AuditEvent
from rbac.models import Role, UserRole
from rbac.permissions import TEMPLATES
from rbac.selectors import user_effective_permissions
from tests.conftest import make_user, verify_session

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

PERSONAS = {
    "owner": None,
    "admin": ["admin"],
    "admin2": ["admin"],
    "manager": sorted(TEMPLATES["manager"]["permissions"]),
    "operator": sorted(TEMPLATES["operator"]["permissions"]),
    "editor": ["editor"],
    "viewer": ["viewer"],
    "member": [],
}
# Personas acting only through a key narrower than their own permissions.
NARROW_KEYS = {
    "admin_ban_key": ("admin", ["users:read", "users:ban"]),
    "manager_read_key": ("manager", ["users:read"]),
}


ADMIN_PERMISSION = {a.__name__: a.required_permission for a in UserAdmin.actions}


class _Rollback(Exception):
    pass


def _people() -> dict:
    people = {"owner": User.objects.get(is_owner=True)}
    for name, spec in PERSONAS.items():
        if name == "owner":
            continue
        if spec and ":" in spec[0]:
            role, _ = Role.objects.get_or_create(
                slug=f"t-{name}", defaults={"name": name, "permissions": spec}
            )
            user = make_user(f"{name}@example.com")
            UserRole.objects.create(user=user, role=role)
        else:
            user = make_user(f"{name}@example.com", roles=spec)
        people[name] = user
    return people


def _key_headers(user, scopes) -> dict:
    raw = "hv_" + secrets.token_urlsafe(32)
    ApiKey.objects.create(
        user=user, name="t", prefix=raw[:10], key_hash=hash_key(raw), scopes=sorted(scopes)
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _observe(marker: int, target, code: str):
    events = list(AuditEvent.objects.filter(id__gt=marker).order_by("id"))
    for event in events:
        if (event.outcome, event.action, event.target_id) == ("success", code, str(target.pk)):
            return ("allowed", code, tuple(sorted(event.changes)))
    for event in events:
        if event.outcome == "denied":
            return ("refused", event.reason.split(":", 1)[0])
    return ("no event",)


def _set_state(target, state: dict) -> None:
    now = timezone.now()
    values = {
        k: (now + timezone.timedelta(days=1) if v == "future" else now) for k, v in state.items()
    }
    if values:
        User.objects.filter(pk=target.pk).update(**values)


def _run(fn, target, code: str, state: dict):
    """Run one entry point from the example's state, then undo it."""
    result = None
    try:
        with transaction.atomic():
            _set_state(target, state)
            marker = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            response = fn()
            result = _observe(marker, target, code)
            if result == ("no event",):
                result = ("no event", response.status_code)
            raise _Rollback
    except _Rollback:
        pass
    return result


def _session(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    verify_session(client, user, force=True)
    return client


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
def test_every_entry_point_reaches_the_same_guard_and_writes_the_same_event(
    owner, actor_name, target_name, action
):
    code, page, (api_method, api_path), admin_action, state = ACTIONS[action]
    # A banned, disabled or deleted actor cannot sign in at all.
    person = NARROW_KEYS[actor_name][0] if actor_name in NARROW_KEYS else actor_name
    assume(not (state and person == target_name))
    try:
        with transaction.atomic():
            people = _people()
            target = people[target_name]
            if actor_name in NARROW_KEYS:
                base, scopes = NARROW_KEYS[actor_name]
                actor, key_scopes, sessions = people[base], scopes, False
            else:
                actor = people[actor_name]
                key_scopes, sessions = sorted(user_effective_permissions(actor)), True
            headers = _key_headers(actor, key_scopes)
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
                browser = _session(actor)
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

            outcomes = {name: _run(fn, target, code, state) for name, fn in ways.items()}
            raise _Rollback(outcomes)
    except _Rollback as done:
        outcomes = done.args[0]
    assert all(o[0] != "no event" for o in outcomes.values()), outcomes
    assert len(set(outcomes.values())) == 1, (actor_name, target_name, action, outcomes)
