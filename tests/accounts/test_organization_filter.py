"""The users list's organization filter above `ORGANIZATION_SELECT_LIMIT`
organizations (issue 29): a search field with suggestions instead of a
select writing every organization on every page. It filters as the select
did, kept in the URL; it names no organization the actor does not see;
the suggestions keep the same reach and are escaped."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.views import users as user_views
from tests.conftest import make_user
from tests.orgs.conftest import join, three_organizations

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs(owner, monkeypatch):
    """Three organizations, over a limit of two."""
    monkeypatch.setattr(user_views, "ORGANIZATION_SELECT_LIMIT", 2)
    orgs = three_organizations()
    join(make_user("alice@acme.example", name="Alice Acme"), orgs["acme"], "member")
    join(make_user("gil@globex.example", name="Gil Globex"), orgs["globex"], "member")
    return orgs


def _emails(response) -> set[str]:
    return {row.email for row in response.context["rows"]}


def test_above_the_limit_the_filter_is_a_search_field_holding_only_the_choice(
    client_for, admin_user, orgs
):
    client = client_for(admin_user)
    page = client.get(reverse("users:list")).content.decode()
    assert '<select name="organization"' not in page
    assert '<input type="search" name="organization"' in page
    assert 'hx-get="/users/organizations/"' in page
    assert "<option" not in page.split('name="organization"')[1].split("</datalist>")[0]
    assert "Initech" not in page  # a member of none: no option per organization

    response = client.get(reverse("users:list"), {"organization": "acme"})
    assert _emails(response) == {"ada@acme.example", "alice@acme.example"}
    page = response.content.decode()
    assert 'name="organization" value="acme"' in page
    assert '<option value="acme">Acme &amp; &lt;Sons&gt;</option>' in page
    assert "Initech" not in page


def test_above_the_limit_an_organization_the_actor_does_not_see_is_ignored(client_for, orgs):
    client = client_for(orgs["ada"])  # sees Acme only
    response = client.get(reverse("users:list"), {"organization": "globex"})
    assert _emails(response) == {"ada@acme.example", "alice@acme.example"}
    assert "Globex" not in response.content.decode()


def test_above_the_limit_the_rows_name_only_the_organizations_the_actor_sees(client_for, orgs):
    both = make_user("bo@both.example", name="Bo Both")
    join(both, orgs["acme"], "member")
    join(both, orgs["globex"], "member")
    page = client_for(orgs["ada"]).get(reverse("users:list")).content.decode()
    assert "Acme &amp; &lt;Sons&gt;</a>" in page
    assert "Globex" not in page


def test_the_suggestions_match_name_or_slug_within_reach_escaped(
    client_for, admin_user, orgs, owner
):
    url = reverse("users:organization_options")
    client = client_for(admin_user)
    assert client.get(url, {"organization": "sons"}).content.decode() == (
        '<option value="acme">Acme &amp; &lt;Sons&gt;</option>\n'
    )
    found = client.get(url, {"organization": "EX"}).content.decode()
    assert 'value="globex"' in found and 'value="acme"' not in found
    assert client.get(url).content.decode().count("<option") == 3
    # An organization's administrator: their own, whatever the text.
    scoped = client_for(orgs["ada"])
    assert scoped.get(url, {"organization": "globex"}).content.decode() == ""
    assert 'value="acme"' in scoped.get(url).content.decode()


def test_the_suggestions_need_users_read(client_for, member, orgs):
    assert client_for(member).get(reverse("users:organization_options")).status_code == 403


def test_up_to_the_limit_the_filter_stays_a_select_of_every_organization(
    client_for, admin_user, orgs, monkeypatch
):
    monkeypatch.setattr(user_views, "ORGANIZATION_SELECT_LIMIT", 3)
    page = client_for(admin_user).get(reverse("users:list")).content.decode()
    assert '<select name="organization"' in page or 'name="organization"' in page
    assert '<input type="search" name="organization"' not in page
    for name in ("Acme &amp; &lt;Sons&gt;", "Globex", "Initech"):
        assert f">{name}</option>" in page


def test_above_the_limit_one_who_sees_every_organization_gets_the_rows_names_unasked(
    client_for, owner, orgs
):
    """The rows' organizations need no question of which the actor sees
    when it sees them all (`user_rows._seen_organizations`); an
    organization's administrator is still asked (the test above)."""
    both = make_user("bo@both.example", name="Bo Both")
    join(both, orgs["acme"], "member")
    join(both, orgs["globex"], "member")
    client = client_for(owner)
    client.get(reverse("users:list"))  # the filter's choices cached
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("users:list"))
    rows = {row.email: [name for _, name in row.organizations] for row in response.context["rows"]}
    assert rows["bo@both.example"] == ["Acme & <Sons>", "Globex"]
    asked = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "rbac_organization"."id"')
    ]
    assert asked == []
