"""Isolation, generated: organizations, members (some in two, some in
none), an administrator per organization (the org-admin role there, plus
audit:read and users:export there), their API keys; events about every
user. For each administrator, through every door that lists, counts,
searches, exports or acts on users: nobody outside their organizations is
shown, and acting on them answers 404 and changes nothing.

The figures (cases, requests, routes, leaks) are printed as
`FIGURE org_isolation: ...` and copied into the README."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services.api_keys import api_key_create
from audit import services as audit
from rbac.actor import Actor
from rbac.models import Membership, Organization, Role, UserRole
from tests.conftest import make_user, verify_session
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db(transaction=False)

ORGS = ("acme", "globex", "initech")
# Each generated user: the organizations they belong to (maybe none).
memberships = st.lists(
    st.frozensets(st.sampled_from(range(len(ORGS))), max_size=2), min_size=2, max_size=7
)
# Which organizations get an administrator (at least one), and whether that
# administrator is also a plain member of another organization.
admins = st.lists(st.booleans(), min_size=len(ORGS), max_size=len(ORGS)).filter(any)

ROUTES = set()
STATS = {"cases": 0, "requests": 0, "leaks": 0}


def _role(slug, perms):
    role, _ = Role.objects.get_or_create(slug=slug, defaults={"name": slug, "permissions": perms})
    return role


def _build(owner, members, with_admin, admin_elsewhere):
    orgs = [Organization.objects.create(slug=s, name=s.title()) for s in ORGS]
    extra = _role("org-auditor", ["users:read", "audit:read", "users:export"])
    users = []
    for i, org_ids in enumerate(members):
        user = make_user(f"user{i}@people.example", name=f"Person {i}")
        for o in sorted(org_ids):
            Membership.objects.create(user=user, organization=orgs[o])
        users.append((user, {orgs[o].pk for o in org_ids}))
    admin_role = Role.objects.get(slug="org-admin")
    chiefs = []
    for o, wanted in enumerate(with_admin):
        if not wanted:
            continue
        chief = make_user(f"chief{o}@people.example", name=f"Chief {o}")
        Membership.objects.create(user=chief, organization=orgs[o])
        UserRole.objects.create(user=chief, role=admin_role, organization=orgs[o])
        UserRole.objects.create(user=chief, role=extra, organization=orgs[o])
        orgs_of = {orgs[o].pk}
        if admin_elsewhere:  # a plain member of the next organization too
            nxt = orgs[(o + 1) % len(orgs)]
            Membership.objects.create(user=chief, organization=nxt)
            orgs_of.add(nxt.pk)
        chiefs.append((chief, o, orgs_of))
        users.append((chief, orgs_of))
    for user, _ in users:  # an event about everyone, naming them
        audit.record(
            "accounts.user.updated", actor=owner, target=user, changes={"name": ["", user.name]}
        )
    return orgs, users, chiefs


def _check(client, method, url, *, forbidden_texts, expect_status=None, body=None, headers=None):
    ROUTES.add((method, _route_name(url)))
    STATS["requests"] += 1
    kwargs = dict(headers or {})
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    response = getattr(client, method)(url, **kwargs)
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    text = raw.decode(errors="replace")
    leaked = [t for t in forbidden_texts if t in text]
    problems = []
    if leaked:
        problems.append(f"{method} {url} shows {leaked}")
    if expect_status is not None and response.status_code != expect_status:
        problems.append(f"{method} {url} answered {response.status_code}, not {expect_status}")
    STATS["leaks"] += len(problems)
    return problems, response


def _route_name(url):
    from django.urls import resolve

    path = url.split("?")[0]
    try:
        match = resolve(path)
        return match.route
    except Exception:
        return path


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    derandomize=True,  # the same worlds each run, so the README figures hold
    suppress_health_check=list(HealthCheck),
)
@given(members=memberships, with_admin=admins, admin_elsewhere=st.booleans())
def _isolation(client, owner, members, with_admin, admin_elsewhere):
    problems = []
    with transaction.atomic():
        orgs, users, chiefs = _build(owner, members, with_admin, admin_elsewhere)
        for chief, o, _ in chiefs:
            STATS["cases"] += 1
            own = {orgs[o].pk}
            inside = {u.pk for u, of in users if of & own} | {chief.pk}
            outside = [u for u, of in users if u.pk not in inside]
            hidden = [u.email for u in outside]
            client.force_login(chief, backend="accounts.backends.EmailBackend")
            verify_session(client, chief)
            scopes = sorted(Actor.console(chief).permissions)
            _key, raw = api_key_create(actor=owner, name="iso", scopes=scopes, user=chief)
            key = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
            pages = [
                reverse("users:list") + "?size=100",
                reverse("users:list") + "?q=people",
                reverse("users:list") + "?status=active&size=100",
                reverse("users:jump") + "?q=people",
                reverse("users:export"),
                reverse("overview"),
                reverse("audit:list"),
                reverse("audit:list") + "?q=people",
                reverse("audit:export_csv"),
                reverse("jobs:list"),
                reverse("organizations:list"),
                reverse("organizations:detail", args=[orgs[o].slug]),
            ]
            for url in pages:
                problems += _check(client, "get", url, forbidden_texts=hidden)[0]
            for url in [
                "/api/admin/users?limit=200",
                "/api/admin/audit?limit=200",
                "/api/admin/organizations",
            ]:
                problems += _check(client, "get", url, forbidden_texts=hidden, headers=key)[0]
            for other in orgs:
                if other.pk in own:
                    continue
                problems += _check(
                    client,
                    "get",
                    reverse("organizations:detail", args=[other.slug]),
                    forbidden_texts=hidden,
                    expect_status=404,
                )[0]
                problems += _check(
                    client,
                    "get",
                    f"/api/admin/organizations/{other.slug}/members",
                    forbidden_texts=hidden,
                    expect_status=404,
                    headers=key,
                )[0]
            for user in outside:
                for url in (
                    reverse("users:detail", args=[user.pk]),
                    reverse("users:data_export", args=[user.pk]),
                    reverse("roles:user_access", args=[user.pk]),
                ):
                    problems += _check(
                        client, "get", url, forbidden_texts=hidden, expect_status=404
                    )[0]
                problems += _check(
                    client,
                    "post",
                    reverse("users:ban", args=[user.pk]),
                    forbidden_texts=[],
                    expect_status=404,
                )[0]
                problems += _check(
                    client,
                    "get",
                    f"/api/admin/users/{user.pk}",
                    forbidden_texts=hidden,
                    expect_status=404,
                    headers=key,
                )[0]
                problems += _check(
                    client,
                    "post",
                    f"/api/admin/users/{user.pk}/ban",
                    forbidden_texts=[],
                    expect_status=404,
                    headers=key,
                    body={"reason": "x"},
                )[0]
                problems += _check(
                    client,
                    "post",
                    f"/api/admin/organizations/{orgs[o].slug}/members",
                    forbidden_texts=[],
                    expect_status=404,
                    headers=key,
                    body={"user_id": str(user.pk), "roles": []},
                )[0]
                user.refresh_from_db()
                if (
                    user.status == "banned"
                    or Membership.objects.filter(user=user, organization=orgs[o]).exists()
                ):
                    problems.append(f"{user.email} was changed by {chief.email}")
        transaction.set_rollback(True)
    assert problems == []


def test_no_door_shows_or_changes_a_user_outside_an_organization_admins_scope(client, owner):
    _isolation(client, owner)
    figure(
        "org_isolation",
        cases=STATS["cases"],
        requests=STATS["requests"],
        routes=len(ROUTES),
        leaks=STATS["leaks"],
    )
    assert STATS["leaks"] == 0
