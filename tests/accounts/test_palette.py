"""The command palette's answer (issue 27): users within reach, the actions
their page offers (each asked of its own guard), saved views one may open,
and the pages one may open -- for whoever asks, nothing more."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import make_user
from tests.orgs.conftest import world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(owner):
    return make_user("grace@example.com", roles=["viewer"], name="Grace Hopper")


def _options(response) -> list[str]:
    import re

    body = response.content.decode()
    return [
        " ".join(re.sub(r"<[^>]+>", " ", m).split())
        for m in re.findall(r'role="option"[^>]*>(.*?)</a>', body, re.S)
    ]


def test_an_admin_finds_a_user_with_the_actions_their_page_offers(client_for, admin_user, grace):
    response = client_for(admin_user).get(reverse("palette:search"), {"q": "hopper"})
    body = response.content.decode()
    page = reverse("users:detail", args=[grace.pk])
    assert f'href="{page}"' in body
    assert f'href="{page}#action-ban"' in body
    assert f'href="{page}#action-disable"' in body
    assert f'href="{page}#section-credentials"' in body  # Reset password…
    assert reverse("roles:user_access", kwargs={"user_id": grace.pk}) in body
    assert "#action-hard-delete" not in body  # erasure asks for the password on its page
    options = _options(response)
    assert "Ban… on Grace Hopper" in options
    assert "Reset password… on Grace Hopper" in options
    assert "Assign role… on Grace Hopper" in options


def test_a_viewer_finds_the_user_but_is_offered_no_action(client_for, viewer, grace):
    response = client_for(viewer).get(reverse("palette:search"), {"q": "hopper"})
    body = response.content.decode()
    assert "Grace Hopper" in body
    assert "#action-" not in body and "#section-credentials" not in body
    assert reverse("roles:user_access", kwargs={"user_id": grace.pk}) not in body


def test_the_pages_offered_are_those_one_may_open(client_for, viewer, admin_user, member):
    viewer_pages = _options(client_for(viewer).get(reverse("palette:search")))
    assert "Users" in viewer_pages and "Roles" in viewer_pages
    assert "Audit log" not in viewer_pages and "API keys" not in viewer_pages
    assert "Create a user" not in viewer_pages
    admin_pages = _options(client_for(admin_user).get(reverse("palette:search")))
    assert {"Audit log", "API keys", "Create a user", "Webhooks"} <= set(admin_pages)
    # A client with no permission: their own pages, and no user search.
    response = client_for(member).get(reverse("palette:search"), {"q": "o"})
    assert response.status_code == 200
    options = _options(response)
    assert "My account" in options and "Users" not in options
    assert "Saved views" not in options  # no list to save a view of
    assert "Saved views" in viewer_pages
    assert "Olivia Owner" not in response.content.decode()


def test_a_page_is_found_by_its_name_or_words(client_for, admin_user):
    options = _options(client_for(admin_user).get(reverse("palette:search"), {"q": "events"}))
    assert options == ["Audit log"]


def test_the_palette_finds_only_users_within_reach(
    client_for,
    world,  # noqa: F811
):
    client = client_for(world["ada"])
    assert "Gil Admin" not in client.get(reverse("palette:search"), {"q": "gil"}).content.decode()
    assert "Alice" in client.get(reverse("palette:search"), {"q": "alice"}).content.decode()


def test_no_input_makes_the_palette_fail(client_for, admin_user):
    client = client_for(admin_user)
    # (A NUL character is refused as a bad request before any view, 400.)
    assert client.get(reverse("palette:search"), {"q": "\x00"}).status_code == 400
    for q in ["%", "'; drop table", "a" * 5000, "<script>", "  "]:
        response = client.get(reverse("palette:search"), {"q": q})
        assert response.status_code == 200
        assert "<script>" not in response.content.decode()


def test_the_palette_pins_its_queries(client_for, admin_user, owner, django_assert_max_num_queries):
    for n in range(12):
        make_user(f"crowd{n}@example.com", roles=["viewer"], name=f"Crowd {n}")
    client = client_for(admin_user)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("palette:search"), {"q": "crowd"})
    assert response.content.decode().count("#action-ban") == 3
