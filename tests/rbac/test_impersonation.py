"""Impersonation (issue 26): who may view the dashboard as whom, the
view's end (stop, expiry, demotion, the operator's session ending), and the
audit rows naming both people."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import OutboundEmail
from accounts.services import impersonation as impersonation_services
from audit.models import AuditEvent
from audit.sentences import sentence, with_names
from audit.services import verify_chain
from core.services import PolicyDenied
from rbac.actor import Actor
from rbac.permissions import ALL_PERMISSIONS
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(owner):
    """Full access: every permission (users:impersonate included), not the owner."""
    return make_user(
        "grace@example.com", name="Grace Hopper", direct_permissions=sorted(ALL_PERMISSIONS)
    )


@pytest.fixture
def ada(owner):
    return make_user("ada@example.com", name="Ada Lovelace", roles=["editor"])


def start(client, user, reason="Ticket 42: she cannot see the roles page"):
    return client.post(f"/users/{user.pk}/impersonate/", {"reason": reason})


def viewing(client):
    return impersonation_services.SESSION_KEY in client.session


def test_full_access_views_as_a_user_below_them(client_for, grace, ada):
    client = client_for(grace)
    response = start(client, ada)
    assert response.status_code == 302
    assert viewing(client)
    event = AuditEvent.objects.get(action="accounts.impersonation.started")
    assert (event.actor_id, event.target_id) == (grace.pk, str(ada.pk))
    assert event.reason == "Ticket 42: she cannot see the roles page"
    notice = OutboundEmail.objects.get(to=ada.email)
    assert "viewing" in notice.subject.lower()
    # The pages are hers: the editor sees no Roles admin, no audit log.
    page = client.get("/").content.decode()
    assert "Viewing as Ada Lovelace" in page
    assert client.get("/audit/").status_code == 403


def test_the_user_is_not_told_when_the_setting_is_off(client_for, grace, ada, settings):
    settings.IMPERSONATION_NOTIFY_USER = False
    start(client_for(grace), ada)
    assert not OutboundEmail.objects.filter(to=ada.email).exists()


def test_a_reason_is_required(client_for, grace, ada):
    client = client_for(grace)
    response = start(client, ada, reason="  ")
    assert response.status_code == 400
    assert not viewing(client)


def test_admin_role_cannot_impersonate_by_default(client_for, admin_user, ada):
    client = client_for(admin_user)
    assert start(client, ada).status_code == 403
    assert not viewing(client)


def test_nobody_views_as_the_owner(client_for, grace, owner):
    client = client_for(grace)
    response = start(client, owner)
    assert response.status_code == 403
    assert "The owner cannot be viewed as." in response.content.decode()
    assert not viewing(client)
    denied = AuditEvent.objects.get(action="accounts.impersonation.started")
    assert denied.outcome == "denied" and denied.reason.startswith("owner_protected")


def test_nobody_views_as_a_peer(client_for, grace):
    peer = make_user("peer@example.com", direct_permissions=sorted(ALL_PERMISSIONS))
    client = client_for(grace)
    response = start(client, peer)
    assert response.status_code == 403
    assert "same permissions as you" in response.content.decode()
    assert not viewing(client)


def test_nobody_views_as_themselves(client_for, grace):
    client = client_for(grace)
    assert start(client, grace).status_code == 403
    assert not viewing(client)


def test_the_owner_views_as_an_admin(client_for, owner, admin_user):
    client = client_for(owner)
    assert start(client, admin_user).status_code == 302
    assert viewing(client)


def test_never_through_an_api_key(grace, ada):
    from accounts.models import ApiKey

    key = ApiKey.objects.create(
        user=grace, name="k", prefix="hv_x", key_hash="h" * 64, scopes=sorted(ALL_PERMISSIONS)
    )
    with pytest.raises(PolicyDenied) as refused:
        impersonation_services.impersonation_start(
            actor=Actor.for_api_key(grace, key), user=ada, reason="r"
        )
    assert refused.value.code == "impersonation_dashboard_only"


def test_the_api_has_no_impersonation_route():
    from django.urls import get_resolver

    from tests.test_url_rules import iter_patterns

    routes = [route for route, _ in iter_patterns(get_resolver())]
    assert [r for r in routes if "imperson" in r] == [
        "users/<uuid:pk>/impersonate/",
        "impersonation/stop/",
    ]


def test_never_while_already_viewing_as_someone(client_for, grace, ada):
    other = make_user("other@example.com", roles=["viewer"])
    client = client_for(grace)
    start(client, ada)
    # Through the page: the editor she sees as holds no users:impersonate.
    assert start(client, other).status_code == 403
    assert client.session[impersonation_services.SESSION_KEY]["user"] == str(ada.pk)
    # Through the guard itself, for an actor that would hold it.
    nested = Actor.for_impersonation(grace, other, "k", timezone.now() + dt.timedelta(minutes=5))
    with pytest.raises(PolicyDenied) as refused:
        impersonation_services.impersonation_start(actor=nested, user=ada, reason="r")
    assert refused.value.code in {"impersonation_nested", "impersonation_read_only"}


def test_stop_returns_to_the_operators_own_view(client_for, grace, ada):
    client = client_for(grace)
    start(client, ada)
    response = client.post("/impersonation/stop/")
    assert response.status_code == 302
    assert not viewing(client)
    assert client.get("/audit/").status_code == 200  # her own permissions again
    stopped = AuditEvent.objects.get(action="accounts.impersonation.stopped")
    assert (stopped.actor_id, stopped.acting_for_id) == (grace.pk, ada.pk)


def test_the_view_expires_after_the_limit(client_for, grace, ada, monkeypatch, settings):
    settings.IMPERSONATION_MAX_MINUTES = 30
    client = client_for(grace)
    start(client, ada)
    later = timezone.now() + dt.timedelta(minutes=29)
    monkeypatch.setattr(impersonation_services, "now", lambda: later)
    assert "1 min left" in client.get("/").content.decode()
    later = timezone.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(impersonation_services, "now", lambda: later)
    page = client.get("/").content.decode()
    assert "Viewing as" not in page
    assert "Your time viewing as Ada Lovelace is up" in page
    assert not viewing(client)
    expired = AuditEvent.objects.get(action="accounts.impersonation.expired")
    assert (expired.actor_id, expired.acting_for_id) == (grace.pk, ada.pk)


def test_a_demoted_operator_stops_viewing_at_the_next_request(client_for, grace, ada):
    client = client_for(grace)
    start(client, ada)
    grace.direct_permissions = sorted(ALL_PERMISSIONS - {"users:impersonate"})
    grace.save(update_fields=["direct_permissions"])
    page = client.get("/").content.decode()
    assert "Viewing as" not in page
    assert not viewing(client)
    assert AuditEvent.objects.filter(action="accounts.impersonation.ended").exists()


def test_a_banned_operator_loses_the_view_with_the_session(client_for, grace, ada, owner):
    from accounts.services.users import user_ban

    client = client_for(grace)
    start(client, ada)
    user_ban(actor=owner, user=grace, reason="left the company")
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not viewing(client)


def test_ending_the_operators_session_ends_the_view(client_for, grace, ada, owner):
    from accounts.services.sessions import sessions_end_all

    client = client_for(grace)
    start(client, ada)
    sessions_end_all(grace)
    response = client.get("/users/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert "Viewing as" not in client.get("/login/").content.decode()


def test_audit_rows_name_both_people_and_the_chain_covers_it(client_for, grace, ada):
    client = client_for(grace)
    start(client, ada)
    client.post(f"/users/{ada.pk}/edit/", {"name": "Ada B"})
    refused = AuditEvent.objects.filter(acting_for_id=ada.pk, outcome="denied").first()
    assert refused is not None and refused.actor_id == grace.pk
    text = str(sentence(with_names([refused])[0]))
    assert text.startswith("Grace Hopper, viewing as Ada Lovelace, ")
    assert verify_chain().ok
