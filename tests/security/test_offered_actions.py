"""What a page offers, the visitor may do.

Pages ask the guards (`policies.allows`, `user_has`) before they show a
link, a button or a form; the routes behind them have their own access
rules and the services their named guards. When the two disagree, someone
is offered an action that answers 403 -- or, where the page turns a
refusal into a message, leaves a `denied` audit event.

For each persona this test walks the dashboard from its main pages (two
links deep), follows every link and HTMX request a page offers, and
submits every form it offers (inside a savepoint that is rolled back, so
nothing it does sticks). No offered request may answer 403 or 5xx, and
none may leave a denied audit event.
"""

from __future__ import annotations

import copy
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from rbac.models import Membership, Organization, Role, UserRole
from rbac.permissions import TEMPLATES
from tests.conftest import lock_out, make_user, reauthenticate, verify_session
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

PERSONAS = {
    "owner": None,
    "admin": ["admin"],
    "manager": "manager",
    "operator": "operator",
    "editor": ["editor"],
    "viewer": ["viewer"],
    "member": [],
    # org-admin held in Globex only; the population has members of Globex,
    # of Acme, and one of both (account-wide actions refused, membership
    # removal offered).
    "org_admin": "org:globex",
}
SEEDS = (
    "/",
    "/users/",
    "/users/?status=deleted",
    "/roles/",
    "/invitations/",
    "/account/",
    "/admin/",
)
# Not followed: signing out, the API (its own tests), files, and Django
# admin's own machinery (its sign-out, password change and JS catalogue).
SKIP_PREFIXES = (
    "/logout",
    "/admin/logout",
    "/admin/password_change",
    "/admin/jsi18n",
    "/admin/r/",
    "/api/",
    "/static/",
    "/favicon",
)
MAX_PAGES = 400
# The same page with other filters or sort orders adds nothing: at most
# this many query strings per path are followed.
QUERIES_PER_PATH = 2


class _Offers(HTMLParser):
    """Links, HTMX requests and forms on a page. A form is offered when it
    has a submit button (Django admin's view-only page keeps a bare form);
    its data is what a browser would send unchanged: hidden and filled-in
    fields, checked boxes, selected options (else a single select's first)."""

    def __init__(self):
        super().__init__()
        self.gets: list[str] = []
        self.posts: list[tuple[str, dict]] = []
        self._form: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.gets.append(a["href"])
        if a.get("hx-get"):
            self.gets.append(a["hx-get"])
        if a.get("hx-post"):
            self.posts.append((a["hx-post"], {}))
        if tag == "form":
            method = (a.get("method") or "get").lower()
            self._form = {"method": method, "action": a.get("action") or "", "data": {}}
            self._form["submit"] = False
            return
        if self._form is None:
            return
        data = self._form["data"]
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
        if tag in ("button", "input") and kind == "submit":
            self._form["submit"] = True
        elif tag == "input" and a.get("name"):
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            data.setdefault(a["name"], []).append(a.get("value") or "")
        elif tag == "textarea" and a.get("name"):
            data.setdefault(a["name"], [""])
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "multiple": "multiple" in a, "first": None}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                data.setdefault(self._select["name"], []).append(value)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name = self._select["name"]
            data = self._form["data"] if self._form is not None else {}
            if name not in data and not self._select["multiple"] and self._select["first"]:
                data[name] = [self._select["first"]]
            self._select = None
        elif tag == "form" and self._form is not None:
            form, self._form = self._form, None
            if form["method"] == "post" and form["submit"]:
                self.posts.append((form["action"], form["data"]))
            elif form["method"] != "post" and form["action"]:
                self.gets.append(form["action"])


def _local(base: str, href: str) -> str | None:
    url = urljoin(base, href)
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path.startswith(SKIP_PREFIXES):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _persona(name: str, spec):
    if spec is None:
        return None  # the owner fixture
    if isinstance(spec, str) and spec.startswith("org:"):
        user = make_user(f"{name}@example.com", name=name.title())
        _join(user, spec.removeprefix("org:"), "org-admin")
        return user
    if isinstance(spec, str):
        role, _ = Role.objects.get_or_create(
            slug=f"t-{spec}",
            defaults={"name": spec.title(), "permissions": sorted(TEMPLATES[spec]["permissions"])},
        )
        user = make_user(f"{name}@example.com", name=name.title())
        UserRole.objects.create(user=user, role=role)
        return user
    return make_user(f"{name}@example.com", roles=spec, name=name.title())


def _join(user, slug: str, role: str = "member") -> None:
    organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    Membership.objects.create(user=user, organization=organization)
    UserRole.objects.create(user=user, role=Role.objects.get(slug=role), organization=organization)


@pytest.fixture
def population(owner, builtin_roles):
    """Everyone a persona may meet: one another, a second admin, a banned, a
    disabled, a deleted and a locked-out user, each with an authenticator
    app (and some with a session)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    people = {"owner": owner}
    for name, spec in PERSONAS.items():
        if spec is not None:
            people[name] = _persona(name, spec)
    # The admin's peer: the hierarchy protects them from each other.
    people["peer"] = make_user("peer@example.com", roles=["admin"], name="Pat Peer")
    now = timezone.now()
    people["banned"] = make_user("banned@example.com", banned_until=now + timezone.timedelta(1))
    people["disabled"] = make_user("disabled@example.com", disabled_at=now)
    people["deleted"] = make_user("deleted@example.com", deleted_at=now)
    # Locked out by failed sign-ins: an ordinary account (locked whole) and
    # the admin's peer (locked for the failing address only), so Unlock is
    # offered -- or, by the hierarchy, not -- on their pages.
    people["locked"] = make_user("locked@example.com", name="Lou Locked")
    for name in ("locked", "peer"):
        _lock_out(people[name], now)
    # Organizations: the org admin's people (one of them also in Acme), and
    # someone in Acme only.
    for name in ("banned", "locked"):
        _join(people[name], "globex")
    _join(people["disabled"], "globex")
    _join(people["disabled"], "acme")
    _join(people["peer"], "acme")
    for user in people.values():
        TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    for name in ("member", "viewer", "peer"):
        _signed_in(people[name], fresh=False)  # a browser of theirs, for End buttons
    return people


def _lock_out(user, now) -> None:
    """The attempt row django-axes keeps after enough failed sign-ins."""
    lock_out(user.email, when=now)


def _signed_in(user, *, fresh: bool) -> Client:
    """A browser signed in with password and code; `fresh`: within the
    re-authentication window (as right after signing in), else past it."""
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    verify_session(client, user, force=True)
    client.get("/healthz")  # records the session, as the sign-in view does
    reauthenticate(client, minutes_ago=0 if fresh else 60)
    return client


def _denied_since(marker: int) -> list[str]:
    return [
        f"{e.action}: {e.reason}"
        for e in AuditEvent.objects.filter(id__gt=marker, outcome="denied").order_by("id")
    ]


def _last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


class _Undo(Exception):
    pass


def _post_and_undo(browser: Client, url: str, data: dict, *, fresh: bool):
    """POST from the signed-in `browser`'s session (re-authenticated as
    `fresh` says, as when it signed in) in a savepoint rolled back
    afterwards; returns the status and the denied events it left. The
    session lives in the database, so the rollback restores it too (a
    POST that signs out or ends sessions ends nothing for the next one);
    the POST goes through a copy of the browser, whose cookies stay as
    they were. (Signing in anew for each POST took 60% of its time.)"""
    outcome = None
    try:
        with transaction.atomic():
            client = Client()
            client.cookies = copy.deepcopy(browser.cookies)
            reauthenticate(client, minutes_ago=0 if fresh else 60)
            marker = _last_event()
            response = client.post(url, data, HTTP_HX_REQUEST="true")
            outcome = (response.status_code, _denied_since(marker))
            raise _Undo
    except _Undo:
        pass
    return outcome


@pytest.mark.parametrize("fresh", [True, False], ids=["just-signed-in", "later"])
@pytest.mark.parametrize("persona", list(PERSONAS))
def test_every_action_a_page_offers_is_one_the_visitor_may_take(population, persona, fresh):
    user = population[persona]
    client = _signed_in(user, fresh=fresh)
    seeds = [*SEEDS, f"/users/{population['member'].pk}/", f"/users/{user.pk}/"]
    queue = deque((url, 0) for url in seeds)
    seen_pages: set[str] = set()
    queries: dict[str, int] = {}
    tried_posts: set[str] = set()
    problems: list[str] = []
    statuses: list = []
    while queue and len(seen_pages) < MAX_PAGES:
        url, depth = queue.popleft()
        path = url.split("?", 1)[0]
        if url in seen_pages or queries.get(path, 0) > QUERIES_PER_PATH:
            continue
        seen_pages.add(url)
        queries[path] = queries.get(path, 0) + 1
        marker = _last_event()
        response = client.get(url)
        denied = _denied_since(marker)
        if response.status_code == 403 or response.status_code >= 500 or denied:
            # A seed is where the walk starts, not an offer (the navigation
            # shows an area only to those who may see it); every other URL
            # here was offered by a page.
            if url in seeds and response.status_code == 403:
                continue
            problems.append(f"GET {url}: {response.status_code} {denied}")
            continue
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        offers = _Offers()
        offers.feed(response.content.decode(errors="replace"))
        for href in offers.gets:
            target = _local(url, href)
            if target and depth < 2 and target not in seen_pages:
                queue.append((target, depth + 1))
        for action, data in offers.posts:
            target = _local(url, action or url)
            if target is None or target in tried_posts:
                continue
            tried_posts.add(target)
            status, denied = _post_and_undo(client, target, data, fresh=fresh)
            statuses.append((status, target))
            if status == 403 or status >= 500 or denied:
                problems.append(f"POST {target} (offered on {url}): {status} {denied}")
    figure(
        "offered_actions",
        persona=persona,
        fresh=fresh,
        pages=len(seen_pages),
        forms=len(tried_posts),
        unvisited=len(queue),
    )

    assert len(seen_pages) > 3, seen_pages
    if persona in ("owner", "admin", "manager"):  # Unlock is offered and walked
        assert any(t.endswith(f"/users/{population['locked'].pk}/unlock/") for t in tried_posts)
    assert not problems, f"{persona} was offered what it may not do:\n" + "\n".join(problems)
