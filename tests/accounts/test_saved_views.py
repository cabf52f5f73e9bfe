"""Saved views (issue 27): a named query string of the users list or the
audit log, per person, shareable with the team under `views:share`. A view
keeps no ids: opening it runs the list again for whoever opens it, within
their reach -- the attacker tests below save a view as an administrator
who sees everyone and open it as a colleague who sees one organization."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.forms import UserFilterForm
from accounts.models import SavedView
from accounts.selectors.saved_views import VIEW_KEYS, saved_views_for, view_query
from accounts.services import saved_views as services
from audit.models import AuditEvent
from audit.views import FILTER_KEYS
from core.services import PolicyDenied
from rbac.actor import Actor
from tests.conftest import make_user
from tests.orgs.conftest import world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _actor(user):
    return Actor.for_session(user, "test-session")


def test_a_view_keeps_exactly_the_filters_and_sort_of_its_list():
    users_keys = set(UserFilterForm.base_fields) - {"cursor"}
    assert set(VIEW_KEYS["users"]) == users_keys
    assert set(VIEW_KEYS["audit"]) == set(FILTER_KEYS)
    # Positions (a cursor, a page number) and unknown parameters are dropped.
    kept = view_query("users", "q=ann&cursor=abc&page=3&evil=1&status=active&sort=-created")
    assert kept == "q=ann&status=active&sort=-created"


def test_saving_a_view_is_audited_and_sharing_needs_views_share(admin_user, editor):
    view = services.saved_view_create(
        actor=_actor(admin_user), page="users", name="  Banned  people ", query="status=banned"
    )
    assert (view.name, view.query, view.shared) == ("Banned people", "status=banned", False)
    event = AuditEvent.objects.get(action="accounts.saved_view.created")
    assert event.actor_id == admin_user.pk and event.target_id == str(view.pk)
    assert event.changes["query"] == [None, "status=banned"]

    with pytest.raises(PolicyDenied) as refused:
        services.saved_view_create(
            actor=_actor(editor), page="users", name="Mine", query="", shared=True
        )
    assert refused.value.message == "You need the permission views:share to do this."
    assert not SavedView.objects.filter(owner=editor).exists()
    assert AuditEvent.objects.filter(
        action="accounts.saved_view.created", outcome="denied", actor_id=editor.pk
    ).exists()


def test_a_view_of_a_list_one_cannot_read_is_refused(member):
    with pytest.raises(PolicyDenied) as refused:
        services.saved_view_create(actor=_actor(member), page="audit", name="x", query="")
    assert refused.value.message == "You need the permission audit:read to do this."


def test_only_the_owner_renames_shares_or_deletes_a_view(admin_user, owner):
    view = services.saved_view_create(
        actor=_actor(admin_user), page="audit", name="Denied", query="outcome=denied"
    )
    with pytest.raises(PolicyDenied) as refused:
        services.saved_view_update(actor=_actor(owner), view=view, name="Mine now", shared=True)
    assert refused.value.code == "not_your_view"
    with pytest.raises(PolicyDenied):
        services.saved_view_delete(actor=_actor(owner), view=view)

    services.saved_view_update(actor=_actor(admin_user), view=view, name="Refusals", shared=True)
    view.refresh_from_db()
    assert (view.name, view.shared) == ("Refusals", True)
    event = AuditEvent.objects.get(action="accounts.saved_view.updated", outcome="success")
    assert event.changes == {"name": ["Denied", "Refusals"], "shared": [False, True]}
    # Nothing changes: no event.
    services.saved_view_update(actor=_actor(admin_user), view=view, name="Refusals", shared=True)
    updated = AuditEvent.objects.filter(action="accounts.saved_view.updated", outcome="success")
    assert updated.count() == 1

    services.saved_view_delete(actor=_actor(admin_user), view=view)
    assert not SavedView.objects.exists()
    assert AuditEvent.objects.filter(action="accounts.saved_view.deleted").exists()


def test_two_views_of_one_list_need_two_names(admin_user):
    services.saved_view_create(actor=_actor(admin_user), page="users", name="Ops", query="")
    with pytest.raises(Exception) as refused:
        services.saved_view_create(actor=_actor(admin_user), page="users", name="ops", query="")
    assert "You already have a view called “ops” here." in str(refused.value)


def test_save_from_the_list_then_open_it(client_for, admin_user):
    client = client_for(admin_user)
    form = client.get(
        reverse("saved_views:new"),
        {"page": "users", "status": "banned", "cursor": "x", "sort": "-created"},
    )
    assert form.status_code == 200
    assert 'value="status=banned&amp;sort=-created"' in form.content.decode()
    assert "Status: banned · Sort: Newest first" in form.content.decode()
    response = client.post(
        reverse("saved_views:new"),
        {"page": "users", "query": "status=banned&sort=-created", "name": "Banned"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("users:list") + "?status=banned&sort=-created"
    view = SavedView.objects.get(owner=admin_user)
    opened = client.get(reverse("saved_views:open", args=[view.pk]))
    assert opened["Location"] == response["Location"]
    sidebar = client.get(reverse("saved_views:sidebar")).content.decode()
    assert "Banned" in sidebar and reverse("saved_views:open", args=[view.pk]) in sidebar
    # A name already taken is said on the field, with no 500.
    again = client.post(
        reverse("saved_views:new"), {"page": "users", "query": "", "name": "banned"}
    )
    assert again.status_code == 400
    assert "You already have a view called “banned” here." in again.content.decode()


def test_someone_elses_unshared_view_does_not_exist(client_for, admin_user, owner):
    view = services.saved_view_create(
        actor=_actor(owner), page="users", name="Private", query="q=secret"
    )
    client = client_for(admin_user)
    for name in ("open", "edit", "delete"):
        assert client.get(reverse(f"saved_views:{name}", args=[view.pk])).status_code == 404
    assert client.post(reverse("saved_views:delete", args=[view.pk])).status_code == 404
    assert "Private" not in client.get(reverse("saved_views:sidebar")).content.decode()
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_shared_view_shows_a_lower_reach_colleague_only_their_reach(
    client_for,
    world,  # noqa: F811
):
    """Attacker test: the owner (who sees everyone) shares views aimed at
    Globex; Ada administers Acme only. Opening them shows her Acme's people
    and nothing of Globex -- the view carries filters, not people."""
    owner = world["owner"]
    by_q = services.saved_view_create(
        actor=_actor(owner), page="users", name="Gil", query="q=gil", shared=True
    )
    by_org = services.saved_view_create(
        actor=_actor(owner), page="users", name="Globex", query="organization=globex", shared=True
    )
    audit_view = services.saved_view_create(
        actor=_actor(owner),
        page="audit",
        name="Gil's trail",
        query=f"user={world['gil'].pk}",
        shared=True,
    )
    client = client_for(world["ada"])
    listed = {v.name for v in saved_views_for(_actor(world["ada"]))}
    assert listed == {"Gil", "Globex"}  # no audit:read: the audit view is not hers to open
    assert client.get(reverse("saved_views:open", args=[audit_view.pk])).status_code == 404

    location = client.get(reverse("saved_views:open", args=[by_q.pk]))["Location"]
    page = client.get(location)
    assert page.status_code == 200 and list(page.context["page"].users) == []

    location = client.get(reverse("saved_views:open", args=[by_org.pk]))["Location"]
    page = client.get(location + "&size=100")
    emails = {u.email for u in page.context["page"].users}
    assert emails and all(e.endswith(("@acme.example", "@both.example")) for e in emails)
    assert "gil@globex.example" not in page.content.decode()


def test_the_saved_views_page_and_palette_pin_their_queries(
    client_for, admin_user, django_assert_max_num_queries
):
    for n in range(15):
        shared = n % 2 == 0
        owner = admin_user if n < 10 else make_user(f"peer{n}@example.com", roles=["admin"])
        services.saved_view_create(
            actor=_actor(owner), page="users", name=f"View {n}", query="", shared=shared
        )
    client = client_for(admin_user)
    with django_assert_max_num_queries(6):
        page = client.get(reverse("saved_views:list"))
    assert page.status_code == 200 and page.content.decode().count("View ") >= 12
    with django_assert_max_num_queries(6):
        assert client.get(reverse("saved_views:sidebar")).status_code == 200


def test_no_input_makes_the_saved_view_pages_fail(client_for, admin_user):
    client = client_for(admin_user)
    assert client.get(reverse("saved_views:new"), {"page": "evil"}).status_code == 200
    for data in [
        {"page": "evil", "name": "x"},
        {"page": "users", "name": ""},
        {"page": "users", "name": "x" * 500},
        {"page": "audit", "name": "<b>", "query": "%%%&&&==" * 100},
    ]:
        assert client.post(reverse("saved_views:new"), data).status_code < 500
    assert client.get("/views/not-a-uuid/").status_code == 404
    view = SavedView.objects.get(page="audit")
    assert view.name == "<b>"
    assert "<b>" not in client.get(reverse("saved_views:list")).content.decode()
