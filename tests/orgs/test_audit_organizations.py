"""The audit log records the organization each event happened in, and a
scoped auditor reads only their organizations' events: what was done in
another organization to a member they share stays that organization's, and
what was done in theirs stays theirs after the member left. The page, the
API and both exports filter by organization; the organization is hashed
into the chain."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.services.api_keys import api_key_create
from audit import services as audit
from audit.models import AuditEvent
from rbac import services
from rbac.actor import Actor
from rbac.models import Role, UserRole
from tests.audit.test_chain import _raw

pytestmark = pytest.mark.django_db


def _auditor_in(user, org):
    role, _ = Role.objects.get_or_create(
        slug="org-auditor", defaults={"name": "Org auditor", "permissions": ["audit:read"]}
    )
    UserRole.objects.create(user=user, role=role, organization=org)


@pytest.fixture
def logged(world):
    """Ada audits Acme, Gil audits Globex. The owner gives Bo (in both) a
    role in each organization, and Ada removes Alice from Acme."""
    _auditor_in(world["ada"], world["acme"])
    _auditor_in(world["gil"], world["globex"])
    owner = Actor.console(world["owner"])
    for org in ("acme", "globex"):
        services.org_role_assign(
            actor=owner,
            organization=world[org],
            user=world["both"],
            role=Role.objects.get(slug="org-admin"),
        )
    services.member_remove(
        actor=Actor.for_session(world["ada"], "s"), organization=world["acme"], user=world["alice"]
    )
    events = {
        (e.action, e.organization_id): e
        for e in AuditEvent.objects.filter(
            action__in=["rbac.user_role.assigned", "rbac.membership.removed"]
        )
    }
    acme, globex = world["acme"].pk, world["globex"].pk
    return {
        "in_acme": events[("rbac.user_role.assigned", acme)],
        "in_globex": events[("rbac.user_role.assigned", globex)],
        "alice_removed": events[("rbac.membership.removed", acme)],
    }


@pytest.fixture
def key_for(world):
    """Bearer headers for a key the owner makes for `user`, scoped to audit:read."""

    def make(user):
        _key, raw = api_key_create(
            actor=world["owner"], name="audit", scopes=["audit:read", "audit:export"], user=user
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return make


def _api_ids(call, headers, query=""):
    status, body, _ = call("GET", f"/api/admin/audit?limit=200{query}", headers)
    assert status == 200, body
    return {e["id"] for e in body}


def test_another_organizations_events_about_a_shared_member_stay_there(
    client_for, world, logged, call, key_for
):
    gil = client_for(world["gil"])
    # Bo is Gil's member too, but the role Bo got in Acme is Acme's business.
    assert gil.get(reverse("audit:detail", args=[logged["in_acme"].pk])).status_code == 404
    assert gil.get(reverse("audit:detail", args=[logged["in_globex"].pk])).status_code == 200
    page = gil.get(reverse("audit:list") + f"?target={world['both'].email}")
    assert page.status_code == 200
    assert "Acme" not in page.content.decode()
    ids = _api_ids(call, key_for(world["gil"]))
    assert logged["in_globex"].pk in ids
    assert logged["in_acme"].pk not in ids
    assert logged["alice_removed"].pk not in ids


def test_an_organizations_events_stay_in_its_log_after_the_member_left(
    client_for, world, logged, call, key_for
):
    # Alice belongs to no organization any more; her removal from Acme is
    # still Acme's history, and only Acme's.
    ada = client_for(world["ada"])
    assert ada.get(reverse("audit:detail", args=[logged["alice_removed"].pk])).status_code == 200
    ids = _api_ids(call, key_for(world["ada"]))
    assert {logged["alice_removed"].pk, logged["in_acme"].pk} <= ids
    assert logged["in_globex"].pk not in ids
    # An account-wide event about her, recorded now, is nobody's but the
    # global auditors'.
    later = audit.record("accounts.user.updated", actor=world["owner"], target=world["alice"])
    assert later.organization_id is None
    assert later.pk not in _api_ids(call, key_for(world["ada"]))


def test_the_page_api_and_exports_filter_by_organization(client_for, world, logged, call, key_for):
    owner = client_for(world["owner"])
    page = owner.get(reverse("audit:list") + "?organization=globex")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"/audit/{logged['in_globex'].pk}/" in text
    assert f"/audit/{logged['in_acme'].pk}/" not in text
    # The filter is offered, with the organization chosen.
    assert '<option value="globex" selected>Globex</option>' in text

    headers = key_for(world["owner"])
    ids = _api_ids(call, headers, "&organization=acme")
    assert ids == {logged["in_acme"].pk, logged["alice_removed"].pk}
    assert _api_ids(call, headers, "&organization=nowhere") == set()
    status, body, _ = call("GET", "/api/admin/audit?organization=acme&limit=1", headers)
    assert body[0]["organization_id"] == world["acme"].pk

    export = owner.get(reverse("audit:export_csv") + "?organization=acme")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {int(r["id"]) for r in rows} == {logged["in_acme"].pk, logged["alice_removed"].pk}
    assert {r["organization_id"] for r in rows} == {str(world["acme"].pk)}
    response = client_for(world["owner"]).get(
        "/api/admin/audit/export?organization=globex", **headers
    )
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [str(logged["in_globex"].pk)]


def test_an_organization_outside_reach_in_the_filter_is_a_form_error_not_a_leak(
    client_for, world, logged
):
    gil = client_for(world["gil"])
    response = gil.get(reverse("audit:list") + "?organization=acme")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Some filters are not valid" in text
    assert f"/audit/{logged['in_acme'].pk}/" not in text


def test_the_organization_is_hashed_into_the_chain(world, logged, require_postgres):
    audit.seal()  # as the sealer does after commit
    call_command("audit_verify")  # intact
    assert audit.verify_chain().ok
    # Moving an event into another organization's log breaks the chain there.
    _raw(
        "UPDATE audit_auditevent SET organization_id = %s WHERE id = %s",
        [world["globex"].pk, logged["in_acme"].pk],
    )
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == logged["in_acme"].pk
