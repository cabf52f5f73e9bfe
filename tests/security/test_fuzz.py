"""Fuzzing (ASVS 5.1.3-5.1.4 / 5.0 2.2.1; "nothing a user can type may
produce a 500"): every form the dashboard renders, and every query
parameter the list pages read, gets hypothesis-generated input. Forms are
discovered from the pages' HTML, so new forms are covered automatically."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_route_targets, make_user, verify_session
from tests.security.conftest import figure
from tests.test_url_rules import iter_patterns

pytestmark = pytest.mark.django_db

# Query parameters the views read from request.GET directly (filter forms
# add their own fields, found in the HTML).
QUERY_PARAMS = [
    "q",
    "status",
    "role",
    "sort",
    "page",
    "cursor",
    "before",
    "after",
    "template",
    "next",
    "action",
    "actor",
    "target",
    "outcome",
    "per_page",
    "mfa",
    "verified",
]
# Routes whose success ends the fuzzing session (it signs back in anyway).
SKIP_POST = ("logout/",)

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # no lone surrogates (not encodable)
    max_size=300,
)
nasty = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "0",
        "-1",
        "99999999999999999999",
        "1e309",
        "NaN",
        "None",
        "null",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "%00",
        "\r\nX-Injected: 1",
        str(uuid.uuid4()),
        "a" * 5000,
        "true",
        "[]",
        "{}",
        "owner@example.com",
        "2026-02-30",
        "9999-12-31T23:59:59",
        "\u202e\u200b",
        "☃@例え.テスト",
    ]
)
value = st.one_of(nasty, text)
# Sent to every form and page before hypothesis' examples: NUL (PostgreSQL
# refuses it in text), huge numbers, long and control-character strings.
ALWAYS_TRIED = ["a\x00b", "-1", "99999999999999999999", "a" * 5000, "\r\nX: 1\x1b[0m", "☃"]


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self._current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action") or "",
                "fields": set(),
            }
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea", "button") and self._current is not None:
            name = attrs.get("name")
            if name and name != "csrfmiddlewaretoken":
                self._current["fields"].add(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


@pytest.fixture
def world(owner, builtin_roles, settings):
    settings.MFA_POLICY = "none"
    settings.PASSWORD_FORGOT_MIN_SECONDS = 0
    target = make_user("fuzz-target@example.com", roles=["editor"], name="Fuzz Target")
    invitation, email, session = make_route_targets(
        user=target, invited_by=owner, invitee="fuzz-invitee@example.com", session_key="f" * 32
    )
    return {"uuid": [target.pk, invitation.pk, email.pk], "int": [session.pk], "slug": ["editor"]}


def pages(world) -> list[str]:
    import re

    conv = re.compile(r"<(?:(\w+):)?(\w+)>")
    urls = []
    for route, _pattern in iter_patterns():
        if route.startswith(("admin/", "api/")) or route in SKIP_POST:
            continue
        kinds = [m.group(1) or "str" for m in conv.finditer(route)]
        if any(k not in world for k in kinds):
            continue
        varying = next((k for k in kinds if k in ("uuid", "int")), None)
        for choice in world[varying] if varying else [None]:

            def fill(m, choice=choice, varying=varying):
                kind = m.group(1) or "str"
                return str(choice if kind == varying else world[kind][0])

            urls.append("/" + conv.sub(fill, route))
    return sorted(set(urls))


def test_no_form_or_query_parameter_input_produces_a_server_error(client, owner, world):
    def sign_in():
        client.force_login(owner, backend="accounts.backends.EmailBackend")
        verify_session(client, owner, force=True)

    client.raise_request_exception = False  # a 500 is counted, not raised
    sign_in()
    targets = []  # (method, url, fields)
    for url in pages(world):
        response = client.get(url)
        assert response.status_code < 500, url
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = FormParser()
        parser.feed(response.content.decode())
        if not parser.forms:
            targets.append(("get", url, set(QUERY_PARAMS)))
        for form in parser.forms:
            action = form["action"] or url
            if not action.startswith("/") or action.startswith(SKIP_POST) or "/logout/" in action:
                continue
            fields = form["fields"] | (set(QUERY_PARAMS) if form["method"] == "get" else set())
            targets.append((form["method"], action, fields))
        targets.append(("get", url, set(QUERY_PARAMS)))
    targets = sorted({(m, u, frozenset(f)) for m, u, f in targets})
    errors, requests = [], 0

    def runner(method, url, fields):
        strategy = st.fixed_dictionaries(
            {}, optional={f: st.one_of(value, st.lists(value, max_size=3)) for f in fields}
        )

        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(strategy)
        def run(data):
            nonlocal requests
            if "_auth_user_id" not in client.session:
                sign_in()
            requests += 1
            response = getattr(client, method)(url, data)
            if response.status_code >= 500:
                errors.append(f"{method.upper()} {url} {data!r}: {response.status_code}")

        return run

    for method, url, fields in targets:
        # Known-bad values in every field at once, then hypothesis' own.
        for bad in ALWAYS_TRIED:
            if "_auth_user_id" not in client.session:
                sign_in()
            requests += 1
            data = dict.fromkeys(fields, bad)
            response = getattr(client, method)(url, data)
            if response.status_code >= 500:
                errors.append(f"{method.upper()} {url} {data!r}: {response.status_code}")
        runner(method, url, sorted(fields))()
    figure("fuzz", forms_and_pages=len(targets), requests=requests, server_errors=len(errors))
    assert not errors, "\n".join(errors[:20])


@pytest.mark.parametrize("url", ["/invitations/", "/emails/"])
def test_a_nul_character_in_the_search_box_is_a_clear_400_not_a_server_error(
    client_for, owner, url, settings
):
    # PostgreSQL cannot compare text holding NUL; the edge middleware
    # refuses such input for every route (handover.middleware).
    settings.MFA_POLICY = "none"
    client = client_for(owner)
    client.raise_request_exception = False
    response = client.get(url, {"q": "a\x00b"})
    assert response.status_code == 400
    assert b"must not contain NUL characters" in response.content
