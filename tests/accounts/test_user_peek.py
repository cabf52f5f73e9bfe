"""The users list's peek panel (issue 27): a fragment reach-checked as the
user page is -- outside the actor's reach the user does not exist (404)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.orgs.conftest import world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_panel_shows_the_user_and_leads_to_their_page(client_for, admin_user, viewer):
    client = client_for(admin_user)
    url = reverse("users:peek", args=[viewer.pk])
    response = client.get(url, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Victor Viewer" in body and "Viewer" in body and str(viewer.pk) in body
    assert reverse("users:detail", args=[viewer.pk]) in body
    assert 'role="dialog"' in body and 'aria-label="Close"' in body
    # Without htmx (no JavaScript), the user page itself.
    assert client.get(url)["Location"] == reverse("users:detail", args=[viewer.pk])


def test_outside_reach_the_panel_is_404_like_the_user_page(
    client_for,
    world,  # noqa: F811
):
    client = client_for(world["ada"])
    gil = world["gil"]
    assert client.get(reverse("users:detail", args=[gil.pk])).status_code == 404
    assert client.get(reverse("users:peek", args=[gil.pk]), **HTMX).status_code == 404
    body = client.get(reverse("users:peek", args=[world["alice"].pk]), **HTMX).content.decode()
    assert "Alice" in body and "Acme" in body and "Globex" not in body


def test_the_panel_needs_users_read(client_for, member, viewer):
    assert client_for(member).get(reverse("users:peek", args=[viewer.pk])).status_code == 403
