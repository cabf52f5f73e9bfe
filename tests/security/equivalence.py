"""What the entry-point equivalence tests share: the personas, the API keys
narrower than their user, and running one entry point from a starting
state inside a savepoint, reading what it did back from the audit log.

An allowed call leaves the action's success event (compared by action code
and `changes` keys); a refusal leaves a denied event whose reason starts
with the refusal code."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.test import Client

from accounts.models import ApiKey, User
from accounts.services.api_keys import hash_key
from audit.models import AuditEvent
from rbac.models import Role, UserRole
from rbac.permissions import TEMPLATES
from rbac.selectors import user_effective_permissions
from tests.conftest import make_user, verify_session

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


class Rollback(Exception):
    pass


def people() -> dict:
    found = {"owner": User.objects.get(is_owner=True)}
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
        found[name] = user
    return found


def actor_and_scopes(everyone: dict, actor_name: str):
    """(the person acting, the scopes of their API key, whether they also
    act through a session): a narrow key's person acts only through it."""
    if actor_name in NARROW_KEYS:
        base, scopes = NARROW_KEYS[actor_name]
        return everyone[base], scopes, False
    actor = everyone[actor_name]
    return actor, sorted(user_effective_permissions(actor)), True


def person_of(actor_name: str) -> str:
    return NARROW_KEYS[actor_name][0] if actor_name in NARROW_KEYS else actor_name


def key_headers(user, scopes) -> dict:
    raw = "hv_" + secrets.token_urlsafe(32)
    ApiKey.objects.create(
        user=user, name="t", prefix=raw[:10], key_hash=hash_key(raw), scopes=sorted(scopes)
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def observe(marker: int, target, code: str):
    events = list(AuditEvent.objects.filter(id__gt=marker).order_by("id"))
    for event in events:
        if (event.outcome, event.action, event.target_id) == ("success", code, str(target.pk)):
            # What changed, not which credential did it (an API call's row
            # also names its key).
            return ("allowed", code, tuple(sorted(set(event.changes) - {"credential"})))
    for event in events:
        if event.outcome == "denied":
            return ("refused", event.reason.split(":", 1)[0])
    return ("no event",)


def run(fn, target, code: str, prepare=None):
    """Run one entry point (after `prepare`, if any), then undo both."""
    result = None
    try:
        with transaction.atomic():
            if prepare is not None:
                prepare()
            marker = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            response = fn()
            result = observe(marker, target, code)
            if result == ("no event",):
                result = ("no event", response.status_code)
            raise Rollback
    except Rollback:
        pass
    return result


def session(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    verify_session(client, user, force=True)
    return client
