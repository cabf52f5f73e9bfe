"""The audit log's organization filter above `ORGANIZATION_SELECT_LIMIT`
organizations (issue 29), as on the users list: a search field with
suggestions instead of a select writing every organization on every
page. It filters as the select did; it names no organization the actor
does not see; the suggestions keep the same reach and are escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit import services as audit
from audit import views as audit_views
from tests.orgs.conftest import three_organizations

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs(owner, monkeypatch):
    """Three organizations over a limit of two, an event in each of two."""
    monkeypatch.setattr(audit_views, "ORGANIZATION_SELECT_LIMIT", 2)
    orgs = three_organizations()
    for org, reason in ((orgs["acme"], "in-acme"), (orgs["globex"], "in-globex")):
        audit.record("rbac.organization.updated", actor=owner, target=org, organization=org,
                     reason=reason)  # fmt: skip
    return orgs


def _reasons(response) -> set[str]:
    return {e.reason for e in response.context["page"].events if e.reason}


def test_above_the_limit_the_filter_is_a_search_field_that_filters(client_for, admin_user, orgs):
    client = client_for(admin_user)
    page = client.get(reverse("audit:list")).content.decode()
    assert '<select name="organization"' not in page
    assert '<input type="search" name="organization"' in page
    assert 'hx-get="/audit/organizations/"' in page
    assert "<option" not in page.split('name="organization"')[1].split("</datalist>")[0]
    assert "Initech" not in page

    response = client.get(reverse("audit:list"), {"organization": "acme"})
    assert _reasons(response) == {"in-acme"}
    page = response.content.decode()
    assert 'name="organization" value="acme"' in page
    assert '<option value="acme">Acme &amp; &lt;Sons&gt;</option>' in page


def test_up_to_the_limit_the_filter_stays_a_select(client_for, admin_user, orgs, monkeypatch):
    monkeypatch.setattr(audit_views, "ORGANIZATION_SELECT_LIMIT", 3)
    page = client_for(admin_user).get(reverse("audit:list")).content.decode()
    assert '<input type="search" name="organization"' not in page
    for name in ("Acme &amp; &lt;Sons&gt;", "Globex", "Initech"):
        assert f">{name}</option>" in page


def test_the_suggestions_match_name_or_slug_within_reach_escaped(client_for, admin_user, orgs):
    url = reverse("audit:organization_options")
    client = client_for(admin_user)
    assert client.get(url, {"organization": "sons"}).content.decode() == (
        '<option value="acme">Acme &amp; &lt;Sons&gt;</option>\n'
    )
    found = client.get(url, {"organization": "EX"}).content.decode()
    assert 'value="globex"' in found and 'value="acme"' not in found
    assert client.get(url).content.decode().count("<option") == 3


def test_the_suggestions_need_audit_read(client_for, member, orgs):
    assert client_for(member).get(reverse("audit:organization_options")).status_code == 403
