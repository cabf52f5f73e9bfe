"""Form errors are announced (WCAG 3.3.1, 4.1.2): on every form shown with
errors, each invalid field carries aria-invalid and an aria-describedby
that points at the error text, and every aria-describedby on the page
points at an element that exists."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.described, self.invalid, self.text = {}, [], [], {}
        self._open = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] = tag
            self._open.append(attrs["id"])
        if attrs.get("aria-describedby"):
            self.described.append((attrs.get("name") or attrs.get("id"), attrs["aria-describedby"]))
        if attrs.get("aria-invalid") == "true":
            self.invalid.append((attrs.get("name"), attrs.get("aria-describedby", "")))

    def handle_data(self, data):
        for i in self._open:
            self.text[i] = self.text.get(i, "") + data

    def handle_endtag(self, tag):
        if self._open and self.ids.get(self._open[-1]) == tag:
            self._open.pop()


FORMS_WITH_ERRORS = [
    ("post", "/users/new/", {"email": "not-an-address", "mode": "invite"}),
    ("post", "/invitations/preview/", {"emails": "not-an-address"}),
    ("get", "/audit/", {"date_from": "not-a-date", "ip": "nope"}),
    ("post", "/account/profile/", {"name": "x" * 400}),
    ("post", "/roles/new/", {"slug": "!!", "name": ""}),
    ("post", "/password/forgot/", {"email": "not-an-address"}),
    ("post", "/login/", {"email": "owner@example.com", "password": "wrong"}),
]


@pytest.mark.parametrize(
    "method,url,data", FORMS_WITH_ERRORS, ids=[f[1] for f in FORMS_WITH_ERRORS]
)
def test_form_errors_are_tied_to_their_fields(client_for, owner, settings, method, url, data):
    settings.MFA_POLICY = "none"
    client = client_for(owner)
    if url in ("/login/", "/password/forgot/"):
        client.logout()
    response = getattr(client, method)(url, data)
    assert response.status_code in (200, 400), response.status_code
    page = Ids()
    page.feed(response.content.decode())
    assert page.invalid, f"{url}: no field is marked aria-invalid"
    for name, ids in page.described:
        for ref in ids.split():
            assert ref in page.ids, f"{url}: {name} aria-describedby={ref!r} points nowhere"
    for name, ids in page.invalid:
        texts = [re.sub(r"\s+", " ", page.text.get(i, "")).strip() for i in ids.split()]
        assert any(texts), f"{url}: invalid field {name} is not described by its error"
