"""The actor acts through a credential (rbac.credentials): a dashboard
session, an API key, or the operator's shell. Only the shell -- code that
runs outside any request (commands, tasks) -- may act without one being
attached; inside a request a user object with none fails closed."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.models import User
from rbac import credentials, policies
from rbac.middleware import RequestCredentialMiddleware

pytestmark = pytest.mark.django_db


def test_outside_a_request_a_bare_user_acts_through_the_shell(member):
    assert credentials.credential_of(member).kind == credentials.CONSOLE
    assert policies.allows(policies.check_fresh_proof, member, action="t")


def test_inside_a_request_a_user_without_a_credential_has_no_fresh_proof(member):
    """A view that loads the actor again (a copy of request.user without the
    session's credential) must not pass for the shell, which counts as a
    fresh proof: the guard asks for re-authentication instead."""
    seen = {}

    def view(request):
        copy = User.objects.get(pk=member.pk)
        seen["kind"] = credentials.credential_of(copy).kind
        seen["fresh"] = policies.allows(policies.check_fresh_proof, copy, action="t")
        return HttpResponse("ok")

    RequestCredentialMiddleware(view)(RequestFactory().get("/"))
    assert seen == {"kind": credentials.UNATTACHED, "fresh": False}
    # And the request's end leaves the shell as it was.
    assert credentials.credential_of(member).kind == credentials.CONSOLE


def test_an_attached_credential_wins_inside_a_request(member):
    seen = {}

    def view(request):
        credentials.attach(member, credentials.Credential(credentials.SESSION))
        seen["kind"] = credentials.credential_of(member).kind
        return HttpResponse("ok")

    RequestCredentialMiddleware(view)(RequestFactory().get("/"))
    assert seen["kind"] == credentials.SESSION


def test_a_job_acts_for_its_person_without_a_fresh_proof_wherever_it_runs(member):
    """A batch or import job runs later, in a worker or (eager tasks) inside
    the request that queued it: either way it acts through the job's
    credential -- every scope the person's session had, no fresh proof --
    not through the operator's shell."""
    from rbac.selectors import act_with_scopes

    act_with_scopes(member, None)
    assert credentials.credential_of(member).kind == credentials.JOB
    assert not policies.allows(policies.check_fresh_proof, member, action="t")

    seen = {}

    def view(request):
        copy = User.objects.get(pk=member.pk)
        act_with_scopes(copy, None)
        seen["kind"] = credentials.credential_of(copy).kind
        return HttpResponse("ok")

    RequestCredentialMiddleware(view)(RequestFactory().get("/"))
    assert seen["kind"] == credentials.JOB
