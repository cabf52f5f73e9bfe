"""CSRF and IDOR over the whole URLconf (ASVS 4.2.2 / 5.0 3.5.1; ASVS
4.1.2, 4.2.1 / 5.0 8.2.2). Routes are enumerated from the URLconf like
tests/test_url_rules.py, so a route added later is covered without
editing this file."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from rbac.decorators import RULE_ATTR
from rbac.permissions import BUILTIN_ROLES
from tests.conftest import make_user, verify_session
from tests.security.conftest import figure
from tests.test_url_rules import iter_patterns

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
TARGET_EMAIL = "tara.target@example.com"
TARGET_NAME = "Tara Target"


# --- CSRF ---------------------------------------------------------------------


def concrete(route: str) -> str:
    """A URL for the route with placeholder values (the CSRF check runs
    before the view, so the objects need not exist)."""
    a_uuid = str(uuid.uuid4())
    values = {
        "uuid": a_uuid,
        "uuidstr": a_uuid,
        "int": "1",
        "slug": "viewer",
        "str": "x",
        "path": "x",
    }
    url = _PARAM.sub(lambda m: values.get(m.group("conv") or "str", "x"), route)
    url = re.sub(r"\(\?P<\w+>[^)]*\)", "x", url).replace("^", "").replace("$", "")
    return "/" + url


def test_every_state_changing_route_refuses_a_post_without_a_csrf_token(owner, settings):
    settings.MFA_POLICY = "none"
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend="accounts.backends.EmailBackend")
    verify_session(client, owner, force=True)  # Django admin needs a verified session
    tried, refused, api = 0, 0, 0
    wrong = []
    for route, _pattern in iter_patterns():
        url = concrete(route)
        response = client.post(url, {"email": "x@example.com", "name": "x"})
        if route.startswith("api/"):
            # The API takes no cookies: a session without a key gets 401,
            # except the keyless self-service routes, which need a token in
            # the body (no ambient authority to forge).
            api += 1
            if route.startswith("api/auth/") or route in ("api/", "api/docs", "api/openapi.json"):
                assert response.status_code in (400, 401, 403, 404, 405, 422, 429), route
            else:
                assert response.status_code in (401, 403, 405), (route, response.status_code)
            continue
        tried += 1
        if response.status_code == 403 and b"CSRF" in response.content:
            refused += 1
        else:
            wrong.append(f"{route}: {response.status_code}")
    figure("csrf", routes_posted=tried, refused=refused, api_routes_without_cookie_auth=api)
    assert not wrong, "POST without a CSRF token was not refused:\n" + "\n".join(wrong)


# --- IDOR ---------------------------------------------------------------------


@pytest.fixture
def others_objects(owner, builtin_roles):
    """Rows that belong to someone else: a target user, their session,
    factor, emails, an invitation, an API key, a batch job, an audit row."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import ApiKey, BatchJob, Invitation, OutboundEmail, UserSession
    from accounts.security import factor_id
    from audit.models import AuditEvent
    from audit.services import record

    target = make_user(TARGET_EMAIL, roles=["editor"], name=TARGET_NAME)
    session = UserSession.objects.create(session_key="t" * 32, user=target)
    device = TOTPDevice.objects.create(user=target, name="Tara's phone", confirmed=True)
    invitation = Invitation.objects.create(
        email=TARGET_EMAIL.replace("tara", "tara2"),
        name=TARGET_NAME,
        token_hash=uuid.uuid4().hex * 2,
        expires_at=timezone.now() + timezone.timedelta(days=7),
        invited_by=owner,
    )
    email = OutboundEmail.objects.create(
        to=TARGET_EMAIL,
        user=target,
        template="t",
        subject="s",
        body_text="b",
        message_id=f"<{uuid.uuid4()}@test>",
    )
    key = ApiKey.objects.create(user=target, name="Tara's key", prefix="hv_x", key_hash="h" * 64)
    job = BatchJob.objects.create(actor=owner, action="ban", user_ids=[str(target.pk)])
    record("accounts.user.updated", actor=owner, target=target)
    event = AuditEvent.objects.filter(target_id=str(target.pk)).last()
    return {
        "target": target,
        "session": session,
        "device": device,
        "uuid": [target.pk, invitation.pk, email.pk, key.pk, job.pk],
        "int": [session.pk, event.pk],
        "str": [factor_id(device)],
        "slug": ["editor"],
    }


def object_urls(route: str, objects) -> list[str]:
    params = [(m.group("conv") or "str", m.group("name")) for m in _PARAM.finditer(route)]
    if not params or not any(conv in ("uuid", "int") or "factor" in n for conv, n in params):
        return []
    urls = []
    for conv, name in params:
        if conv in ("uuid", "int") or (conv == "str" and "factor" in name):
            for value in objects[conv]:
                values = {n: str(value) if n == name else str(objects[c][0]) for c, n in params}
                urls.append("/" + _PARAM.sub(lambda m, v=values: v[m.group("name")], route))
            break
    return urls


def lacks(actor_slug: str | None, route: str, rule) -> bool:
    """Whether a user with the role may NOT reach the route by its rule
    (other signed_in object routes act on the user's own objects only)."""
    held = set(BUILTIN_ROLES[actor_slug]["permissions"]) if actor_slug else set()
    if rule[0] == "permission":
        return not (held & set(rule[1:]))
    if rule[0] == "owner":
        return True
    return rule[0] == "signed_in"


@pytest.mark.parametrize("role", [None, "viewer"], ids=["no-roles", "viewer"])
def test_object_routes_never_show_or_change_another_users_data_without_permission(
    client, others_objects, role, settings
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import UserSession

    settings.MFA_POLICY = "none"
    actor = make_user("mallory@example.com", roles=[role] if role else [], name="Mallory")
    client.force_login(actor, backend="accounts.backends.EmailBackend")
    tried, leaks = 0, []
    for route, pattern in iter_patterns():
        if route.startswith(("admin/", "api/")):
            continue
        rule = getattr(pattern.callback, RULE_ATTR)
        if rule[0] == "public" or not lacks(role, route, rule):
            continue
        for url in object_urls(route, others_objects):
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                tried += 1
                body = response.content.decode(errors="replace")
                # 405: a read-only route refuses the method before anything
                # is read. Self-service routes (account/) look objects up
                # among the signed-in user's own: another user's id is "not
                # there", answered by a redirect to the account page (or the
                # re-authentication step in front of it).
                ok = response.status_code in (403, 404, 405) or (
                    route.startswith("account/")
                    and response.status_code == 302
                    and response["Location"].startswith("/account/")
                )
                if not ok or TARGET_EMAIL in body or TARGET_NAME in body:
                    leaks.append(f"{method.upper()} {url}: {response.status_code}")
    assert UserSession.objects.filter(pk=others_objects["session"].pk, ended_at=None).exists()
    assert TOTPDevice.objects.filter(pk=others_objects["device"].pk).exists()
    assert others_objects["target"].__class__.objects.get(pk=others_objects["target"].pk).is_active
    figure(f"idor[{role or 'no roles'}]", requests=tried, leaks=len(leaks))
    assert tried > 50
    assert not leaks, "\n".join(leaks)


def test_object_routes_never_show_or_change_another_organizations_member(
    client, others_objects, settings
):
    """An administrator of Globex (org-admin held there) tries every page
    route with the ids of a member of Acme -- also the routes their
    permissions open: each answers 403, 404 or 405, and nothing changes.
    Role pages (`roles/<slug>`) show role definitions, nobody's data."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import UserSession
    from rbac.models import Membership, Organization, Role, UserRole

    settings.MFA_POLICY = "none"
    target = others_objects["target"]
    acme = Organization.objects.create(slug="acme", name="Acme")
    globex = Organization.objects.create(slug="globex", name="Globex")
    Membership.objects.create(user=target, organization=acme)
    gil = make_user("gil@globex.example", name="Gil")
    Membership.objects.create(user=gil, organization=globex)
    UserRole.objects.create(user=gil, role=Role.objects.get(slug="org-admin"), organization=globex)
    client.force_login(gil, backend="accounts.backends.EmailBackend")
    tried, leaks = 0, []
    for route, pattern in iter_patterns():
        if route.startswith(("admin/", "api/")):
            continue
        rule = getattr(pattern.callback, RULE_ATTR)
        if rule[0] == "public":
            continue
        for url in object_urls(route, others_objects):
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                tried += 1
                body = response.content.decode(errors="replace")
                ok = response.status_code in (403, 404, 405) or (
                    route.startswith("account/")
                    and response.status_code == 302
                    and response["Location"].startswith("/account/")
                )
                if not ok or TARGET_EMAIL in body or TARGET_NAME in body:
                    leaks.append(f"{method.upper()} {url}: {response.status_code}")
    assert UserSession.objects.filter(pk=others_objects["session"].pk, ended_at=None).exists()
    assert TOTPDevice.objects.filter(pk=others_objects["device"].pk).exists()
    target.refresh_from_db()
    assert target.is_active and target.name == TARGET_NAME
    assert not Membership.objects.filter(user=target, organization=globex).exists()
    # The control: the same visitor opens a member of Globex.
    cleo = make_user("cleo@globex.example", name="Cleo")
    Membership.objects.create(user=cleo, organization=globex)
    assert client.get(f"/users/{cleo.pk}/").status_code == 200
    figure("idor[other organization's administrator]", requests=tried, leaks=len(leaks))
    assert tried > 50
    assert not leaks, "\n".join(leaks)
