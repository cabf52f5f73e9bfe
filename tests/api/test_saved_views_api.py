"""`/api/admin/views`: saved views through an API key (issue 25's parity
with the dashboard's `/views/` pages). A view is a query string; only its
owner changes it; someone else's unshared view does not exist for you."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

VIEWS = "/api/admin/views"


def test_save_list_rename_share_and_delete_a_view(call, key_for, owner):
    k = key_for(owner)
    status, body, _ = call(
        "post", VIEWS, k, {"page": "users", "name": "Banned", "query": "status=banned&page=3"}
    )
    assert status == 201, body
    assert body["query"] == "status=banned"  # a position (page) is not a view
    assert body["url"] == "/users/?status=banned" and body["mine"] and not body["shared"]
    view_id = body["id"]

    status, listed, _ = call("get", VIEWS, k)
    assert status == 200 and [v["id"] for v in listed] == [view_id]

    status, body, _ = call(
        "patch", f"{VIEWS}/{view_id}", k, {"name": "Banned people", "shared": True}
    )
    assert status == 200 and body["name"] == "Banned people" and body["shared"]
    assert call("delete", f"{VIEWS}/{view_id}", k)[0] == 204
    assert call("get", f"{VIEWS}/{view_id}", k)[0] == 404
    assert list(
        AuditEvent.objects.filter(action__startswith="accounts.saved_view.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "accounts.saved_view.created",
        "accounts.saved_view.updated",
        "accounts.saved_view.deleted",
    ]


def test_someone_elses_view_is_not_found_unless_shared_and_never_theirs_to_change(
    call, key_for, owner, admin_user
):
    mine = call("post", VIEWS, key_for(owner), {"page": "users", "name": "Mine", "query": "q=a"})[1]
    shared = call("post", VIEWS, key_for(owner), {"page": "audit", "name": "Team", "shared": True})[
        1
    ]
    theirs = key_for(admin_user)

    assert call("get", f"{VIEWS}/{mine['id']}", theirs)[0] == 404
    assert call("delete", f"{VIEWS}/{mine['id']}", theirs)[0] == 404
    status, listed, _ = call("get", VIEWS, theirs)
    assert [v["id"] for v in listed] == [shared["id"]] and not listed[0]["mine"]
    status, body, _ = call("patch", f"{VIEWS}/{shared['id']}", theirs, {"name": "Hijacked"})
    assert status == 403 and body["error"] == "not_your_view"
    assert call("delete", f"{VIEWS}/{shared['id']}", theirs)[0] == 403
    assert call("get", f"{VIEWS}/{shared['id']}", key_for(owner))[1]["name"] == "Team"


def test_saving_needs_the_lists_read_permission_and_sharing_needs_views_share(call, key_for, owner):
    reader = make_user("reader@example.com", direct_permissions=["users:read", "api-keys:create"])
    k = key_for(reader, scopes=["users:read"])
    status, body, _ = call("post", VIEWS, k, {"page": "audit", "name": "Log"})
    assert status == 403, body
    status, body, _ = call("post", VIEWS, k, {"page": "users", "name": "All", "shared": True})
    assert status == 403 and "views:share" in body["detail"]
    assert call("post", VIEWS, k, {"page": "users", "name": "All"})[0] == 201


@pytest.mark.parametrize(
    "payload",
    [
        {"page": "roles", "name": "x"},
        {"page": "users", "name": ""},
        {"page": "users", "name": "   "},
        {"page": "users", "name": "x" * 201},
        {"page": "users", "name": "ok", "extra": 1},
        {"page": "users"},
    ],
)
def test_bad_input_is_a_4xx_with_words(call, key_for, owner, payload):
    status, body, _ = call("post", VIEWS, key_for(owner), payload)
    assert 400 <= status < 500 and body["error"] and body["detail"], body


def test_a_duplicate_name_is_a_field_error(call, key_for, owner):
    k = key_for(owner)
    assert call("post", VIEWS, k, {"page": "users", "name": "Same"})[0] == 201
    status, body, _ = call("post", VIEWS, k, {"page": "users", "name": "same"})
    assert status == 400 and "already have a view" in body["detail"]
