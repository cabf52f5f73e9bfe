"""The permission matrix: every route of the URLconf, for an anonymous
visitor and each built-in role, answers as its access rule says.

Expectations are derived from each view's `access_rule` (rbac.decorators),
so routes added by other areas are covered without editing this file; a
route without a rule fails. Django admin (OTP-guarded) and the JSON API
(API-key auth) guard themselves: anonymous visitors are sent to the admin
sign-in or get 401, and signed-in users without a verified OTP device are
sent to the admin sign-in too.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern

from rbac.decorators import RULE_ATTR
from rbac.models import Membership, Organization, Role, UserRole
from rbac.permissions import BUILTIN_ROLES, MANAGEMENT_PERMISSIONS, SCOPABLE
from tests.conftest import make_route_targets, make_user, verify_session
from tests.test_url_rules import iter_patterns

pytestmark = pytest.mark.django_db

ROLES = ("owner", "admin", "editor", "viewer")
# An organization's administrator (the org-admin role held in another
# organization than the target's): what they hold there opens a page; no
# object of someone outside it answers anything but 403 or 404.
OTHER_ORG_ADMIN = "other-org-admin"
VISITORS = ("anonymous", *ROLES, OTHER_ORG_ADMIN)
LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"
# Routes whose every path parameter names an object this test creates: a
# 404 there is a bug, not a missing object.
STRICT_PREFIXES = ("roles/",)

_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")


def role_permissions(slug: str) -> frozenset[str]:
    if slug == OTHER_ORG_ADMIN:
        return frozenset(BUILTIN_ROLES["org-admin"]["permissions"]) & SCOPABLE
    return frozenset(BUILTIN_ROLES[slug]["permissions"])


def global_permissions(slug: str) -> frozenset[str]:
    """What the visitor holds globally (Django admin opens to global grants
    only)."""
    return frozenset() if slug == OTHER_ORG_ADMIN else role_permissions(slug)


# --- building URLs ----------------------------------------------------------------


def candidate_values(converter: str, objects: dict) -> list[str]:
    """Values to try for a path parameter, best first."""
    if converter in ("uuid", "uuidstr"):  # uuidstr: django-ninja's uuid converter
        return [str(v) for v in objects["uuids"]]
    if converter == "int":
        return [str(v) for v in objects["ints"]] or ["1"]
    if converter == "slug":
        return ["viewer"]
    return ["x"]


def build_urls(route: str, pattern: URLPattern, objects: dict) -> list[str]:
    """Concrete URLs for a route: one per candidate of its first uuid/int
    parameter (other parameters take their best value)."""
    if "(?P<" in route or "^" in route:

        def regex_value(m):
            body = m.group("body")
            if re.fullmatch(r"[\w|]+", body):
                return body.split("|")[-1]
            return "x"

        url = _REGEX_GROUP.sub(regex_value, route).replace("^", "").replace("$", "")
        return ["/" + url]
    params = [(m.group("conv") or "str", m.group("name")) for m in _CONVERTER.finditer(route)]
    if not params:
        return ["/" + route]
    varying = next((p for p in params if p[0] in ("uuid", "uuidstr", "int")), None)
    urls = []
    choices = candidate_values(varying[0], objects) if varying else [None]
    for choice in choices:
        values = {
            name: (choice if (conv, name) == varying else candidate_values(conv, objects)[0])
            for conv, name in params
        }
        urls.append("/" + _CONVERTER.sub(lambda m: values[m.group("name")], route))
    return urls


# --- expectations -----------------------------------------------------------------


# The schema, its docs page and the API root need no key; nothing behind them
# does anything. Nor behind the catch-all: any other path under /api/ is the
# API's JSON 404, key or not.
PUBLIC_API_ROUTES = {"api/", "api/docs", "api/openapi.json", "api/<path:rest>"}
# A POST-only route answers GET with 405 only after its access check has
# passed (the rule wraps the method check), so 405 means "allowed in".
API_METHODS = ("get", "post", "patch", "delete")


def fetch(client, route: str, url: str):
    """GET the url; API routes are tried with each method until one is not
    405 (django-ninja checks the method before the key)."""
    response = client.get(url)
    if route.startswith("api/") and response.status_code == 405:
        for method in API_METHODS[1:]:
            response = getattr(client, method)(url, data="{}", content_type="application/json")
            if response.status_code != 405:
                break
    return response


def expectation(route: str, pattern: URLPattern, visitor: str) -> str:
    """One of: "login" (redirect to sign-in), "admin-login", "401", "403",
    "ok" (2xx/3xx, not to sign-in), "public" (2xx/3xx) or "admin-login-or-ok"
    (the admin sign-in page itself).
    Raises AssertionError for a route without an access rule."""
    if route in PUBLIC_API_ROUTES:
        return "any"
    if route.startswith("api/auth/"):
        return "any"  # public self-service endpoints (rate-limited, not keyed)
    if route.startswith("api/"):
        return "401" if visitor == "anonymous" else "any"
    if route.startswith("admin/"):
        if pattern.name in ("login", "logout"):
            return "admin-login-or-ok"
        if visitor == "anonymous" or not (global_permissions(visitor) & MANAGEMENT_PERMISSIONS):
            return "admin-login"
        # Staff (OTP-verified managers): what each model page allows is the
        # RBAC mapping's job, tested in tests/test_admin.py; here: no 5xx.
        return "any"
    rule = getattr(pattern.callback, RULE_ATTR, None)
    if rule is None:
        raise AssertionError(
            f"route {route} ({pattern.callback.__module__}.{pattern.callback.__name__}) "
            "declares no access rule"
        )
    kind = rule[0]
    if kind == "public":
        return "public"
    if visitor == "anonymous":
        return "login"
    if kind == "signed_in":
        return "ok"
    if kind == "permission":
        return "ok" if set(rule[1:]) & role_permissions(visitor) else "403"
    if kind == "owner":
        return "ok" if visitor == "owner" else "403"
    raise AssertionError(f"route {route} has an unknown access rule {rule!r} (fail closed)")


def check(expected: str, response, *, may_404: bool) -> str | None:
    """None when `response` meets `expected`, else what went wrong."""
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        return f"server error {status}"
    if expected == "any":
        return None
    if expected == "login":
        ok = status == 302 and location.startswith(LOGIN)
    elif expected == "admin-login":
        ok = status == 302 and location.startswith(ADMIN_LOGIN)
    elif expected == "admin-login-or-ok":
        # /admin/login/ sends you on (302) or says why admin stays shut (403).
        ok = status in (200, 302, 403, 405)
    elif expected == "401":
        ok = status == 401
    elif expected == "403":
        ok = status == 403
    else:  # "ok" and "public": reachable (a public page may send you on to sign-in)
        ok = 200 <= status < 400 or status == 405 or (status == 404 and may_404)
        if expected == "ok" and status == 302 and location.startswith(LOGIN):
            ok = False
    return None if ok else f"expected {expected}, got {status} {location}".strip()


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def matrix_objects(owner, builtin_roles):
    """Rows that parameterised routes can point at."""

    target = make_user("target@example.com", roles=["viewer"], name="Tara Target")
    invitation, email, session = make_route_targets(
        user=target, invited_by=owner, invitee="invitee@example.com", session_key="k" * 32
    )
    # The target is a member of Acme; the other organization's administrator
    # holds org-admin in Globex only.
    acme = Organization.objects.create(slug="acme", name="Acme")
    Membership.objects.create(user=target, organization=acme)
    return {
        "uuids": [target.pk, invitation.pk, email.pk],
        "ints": [session.pk, Role.objects.get(slug="viewer").pk],
        "hidden": {str(target.pk), str(invitation.pk), str(email.pk)},
    }


@pytest.fixture
def visitors(owner, builtin_roles):
    globex = Organization.objects.create(slug="globex", name="Globex")
    outsider = make_user("m-org-admin@example.com")
    Membership.objects.create(user=outsider, organization=globex)
    UserRole.objects.create(
        user=outsider, role=Role.objects.get(slug="org-admin"), organization=globex
    )
    return {
        "owner": owner,
        "admin": make_user("m-admin@example.com", roles=["admin"]),
        "editor": make_user("m-editor@example.com", roles=["editor"]),
        "viewer": make_user("m-viewer@example.com", roles=["viewer"]),
        OTHER_ORG_ADMIN: outsider,
    }


def _outside_reach(visitor: str, url: str, objects: dict) -> bool:
    """Whether `url` names an object of someone outside the visitor's
    organizations (the target user, their invitation or email)."""
    return visitor == OTHER_ORG_ADMIN and any(value in url for value in objects["hidden"])


# --- the matrix ---------------------------------------------------------------------


def test_permission_matrix_covers_every_route(client, visitors, matrix_objects, capsys):
    routes = list(iter_patterns())
    failures = []
    cells = 0
    for visitor in VISITORS:
        client.logout()
        if visitor != "anonymous":
            client.force_login(visitors[visitor], backend="accounts.backends.EmailBackend")
            verify_session(client, visitors[visitor])
        for route, pattern in routes:
            try:
                expected = expectation(route, pattern, visitor)
            except AssertionError as exc:
                failures.append(str(exc))
                continue
            cells += 1
            urls = build_urls(route, pattern, matrix_objects)
            has_params = len(urls) > 1 or "<" in route or "(?P<" in route
            may_404 = has_params and not route.startswith(STRICT_PREFIXES)
            problem = None
            for url in urls:
                response = fetch(client, route, url)
                outside = _outside_reach(visitor, url, matrix_objects)
                problem = check(expected, response, may_404=may_404 or outside)
                if problem is None and outside:
                    status = response.status_code
                    if not (status in (403, 404, 405) or expected in ("login", "any")):
                        problem = f"outside the visitor's organizations, got {status}"
                # A uuid/int route that 404s with one candidate may fit the next.
                if problem is None and response.status_code != 404:
                    break
            if problem:
                failures.append(f"{visitor:9} GET {urls[0]}  [{route}]  {problem}")
    with capsys.disabled():
        print(f"\npermission matrix: {len(routes)} routes x {len(VISITORS)} visitors = {cells}")
    assert not failures, "permission matrix failures:\n" + "\n".join(sorted(set(failures)))


def test_a_route_without_an_access_rule_fails_the_matrix():
    from django.urls import path

    def naked_view(request):  # no rbac.decorators rule
        raise AssertionError("never called")

    pattern = path("naked/", naked_view)
    with pytest.raises(AssertionError, match="declares no access rule"):
        expectation("naked/", pattern, "viewer")


def test_an_unknown_rule_kind_fails_closed():
    from django.urls import path

    def odd_view(request):
        raise AssertionError("never called")

    odd_view.access_rule = ("sometimes",)
    with pytest.raises(AssertionError, match="unknown access rule"):
        expectation("odd/", path("odd/", odd_view), "admin")


def test_expectations_follow_the_rule():
    from django.urls import path

    from rbac.decorators import owner_required, permission_required, public, signed_in

    def view(request):
        raise AssertionError("never called")

    ban = path("ban/", permission_required("users:ban")(view))
    assert expectation("ban/", ban, "anonymous") == "login"
    assert expectation("ban/", ban, "admin") == "ok"
    assert expectation("ban/", ban, "editor") == "403"
    assert expectation("pub/", path("pub/", public(view)), "anonymous") == "public"
    assert expectation("me/", path("me/", signed_in(view)), "viewer") == "ok"
    own = path("own/", owner_required(view))
    assert expectation("own/", own, "owner") == "ok"
    assert expectation("own/", own, "admin") == "403"
    assert expectation("api/admin/users", path("api/admin/users", view), "anonymous") == "401"
