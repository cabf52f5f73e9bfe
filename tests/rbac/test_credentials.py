"""The actor is a person through a credential (rbac.actor, rbac.credentials):
a dashboard session, an API key, a job, or the operator's shell. Each door
builds the Actor once; a bare user object passes for the shell only outside
any request -- inside one it fails closed, with no permission at all."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from accounts.services.api_keys import api_key_authenticate, api_key_create
from accounts.services.users import user_ban
from rbac import credentials, policies
from rbac.actor import Actor, as_actor
from rbac.middleware import RequestCredentialMiddleware
from rbac.permissions import ALL_PERMISSIONS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _inside_a_request(view):
    """Run `view(request)` as an entry point would, inside a request."""
    RequestCredentialMiddleware(view)(RequestFactory().get("/"))


def test_outside_a_request_a_bare_user_acts_through_the_shell(admin_user):
    actor = as_actor(admin_user)
    assert actor.credential.kind == credentials.CONSOLE
    assert actor.permissions == policies.permissions_of(Actor.console(admin_user))
    assert "users:ban" in actor.permissions
    assert policies.allows(policies.check_fresh_proof, admin_user, action="t")


def test_inside_a_request_a_bare_user_has_no_permission_at_all(admin_user, member, caplog):
    """A view that passes a user object instead of request.actor (or loads
    the actor again) must not pass for the shell: before, it kept every
    scope of its user -- through an API key, more than the key held. Now it
    holds nothing, the service refuses, and a warning names the user."""
    seen = {}

    def view(request):
        copy = User.objects.get(pk=admin_user.pk)
        seen["kind"] = as_actor(copy).credential.kind
        seen["permissions"] = policies.permissions_of(copy)
        seen["fresh"] = policies.allows(policies.check_fresh_proof, copy, action="t")
        try:
            user_ban(actor=copy, user=member)
        except policies.PolicyDenied as exc:
            seen["ban"] = exc.code
        return HttpResponse("ok")

    with caplog.at_level(logging.WARNING, logger="rbac.actor"):
        _inside_a_request(view)
    assert seen == {
        "kind": credentials.UNATTACHED,
        "permissions": frozenset(),
        "fresh": False,
        "ban": "permission_denied",
    }
    assert f"a request acts as user {admin_user.pk} without a credential" in caplog.text
    member.refresh_from_db()
    assert member.status == "active"
    # And the request's end leaves the shell as it was.
    assert as_actor(admin_user).credential.kind == credentials.CONSOLE


def test_an_actor_passes_through_inside_a_request(admin_user):
    seen = {}

    def view(request):
        actor = Actor.for_session(admin_user, "k")
        seen["same"] = as_actor(actor) is actor
        seen["ban"] = policies.user_has(actor, "users:ban")
        return HttpResponse("ok")

    _inside_a_request(view)
    assert seen == {"same": True, "ban": True}


def test_a_page_request_carries_its_session_actor(client_for, admin_user):
    """The session middleware is the dashboard's door: `request.actor` is
    the signed-in person through this very session."""
    client = client_for(admin_user)
    response = client.get(reverse("users:list"))
    actor = response.wsgi_request.actor
    assert isinstance(actor, Actor)
    assert actor.user.pk == admin_user.pk
    assert actor.credential.kind == credentials.SESSION
    assert actor.credential.session_key == client.session.session_key
    anonymous = client.__class__().get(reverse("login")).wsgi_request.actor
    assert not anonymous.is_authenticated and anonymous.permissions == frozenset()


def test_an_api_keys_actor_holds_only_its_scopes(admin_user, client):
    key, raw = api_key_create(actor=admin_user, name="narrow", scopes=["users:read"])
    actor = api_key_authenticate(raw)
    assert actor.permissions == frozenset({"users:read"})
    assert actor.credential.kind == credentials.API_KEY and actor.credential.key_id == key.pk
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    listed = client.get("/api/admin/users", **headers)
    assert listed.status_code == 200
    assert listed.wsgi_request.auth.permissions == frozenset({"users:read"})
    member = User.objects.exclude(pk=admin_user.pk).first() or admin_user
    banned = client.post(
        f"/api/admin/users/{member.pk}/ban", data={}, content_type="application/json", **headers
    )
    assert banned.status_code == 403
    assert banned.json()["error"] == "permission_denied"


def test_an_actor_computes_its_permissions_once(admin_user, django_assert_num_queries):
    actor = Actor.for_session(admin_user, "k")
    first = actor.permissions
    with django_assert_num_queries(0):
        assert actor.permissions is first
        assert actor.has("users:ban") and actor.may("users:ban", target=admin_user)
        primed = actor.knowing({admin_user.pk: frozenset({"users:read"})})
        assert primed.permissions is first
        assert primed.target_permissions(admin_user) == frozenset({"users:read"})
    assert not hasattr(admin_user, "_rbac_permissions")


def test_a_job_acts_for_its_person_without_a_fresh_proof_wherever_it_runs(member, owner):
    """A batch or import job runs later, in a worker or (eager tasks) inside
    the request that queued it: either way it acts through the job's
    credential -- the scopes of the credential that queued it, no fresh
    proof -- not through the operator's shell."""
    actor = Actor.for_job(member, "job-1", None)
    assert actor.credential.kind == credentials.JOB
    assert actor.credential.job_id == "job-1"
    assert not policies.allows(policies.check_fresh_proof, actor, action="t")

    narrow = Actor.for_job(owner, "job-2", ["users:read"])
    assert narrow.permissions == frozenset({"users:read"})
    assert Actor.for_job(owner, "job-3", None).permissions == ALL_PERMISSIONS

    seen = {}

    def view(request):
        copy = User.objects.get(pk=member.pk)
        seen["kind"] = as_actor(Actor.for_job(copy, "job-1", None)).credential.kind
        return HttpResponse("ok")

    _inside_a_request(view)
    assert seen["kind"] == credentials.JOB


HIDDEN = re.compile(r"_hv_credential|_rbac_scope|_rbac_permissions|_handover_refused")


def test_no_module_stamps_request_state_on_users_or_requests():
    """The actor is explicit: no app module carries a credential, a scope,
    a cached permission set or a refusal as a hidden attribute."""
    offenders = []
    for app in ("accounts", "audit", "core", "handover", "rbac"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if HIDDEN.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_hidden_attribute_check_can_fail():
    assert HIDDEN.search('setattr(user, "_rbac_scope", scope)')
    assert HIDDEN.search("request._handover_refused = True")
