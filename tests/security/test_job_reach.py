"""Another person's job (issue 22, "reads that know their reach"):
cancelling or resuming it acts on its creator (the hierarchy), and reading
its per-item results needs the permission reading what they list needs
(users:read for a batch, invitations:read for an import). Through the jobs
page and the job pages, with a real job run for the results."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import BatchJob
from accounts.services import batch, invitation_import
from audit.models import AuditEvent
from rbac.models import Role
from rbac.permissions import TEMPLATES
from tests.conftest import make_user, make_users

pytestmark = pytest.mark.django_db


def _manager():
    return make_user(
        "manager@example.com", direct_permissions=sorted(TEMPLATES["manager"]["permissions"])
    )


def _owners_batch(owner) -> BatchJob:
    ids = [u.pk for u in make_users(301, prefix="job")]
    return batch.batch_job_create(actor=owner, action="disable", user_ids=ids)


def _owners_import(owner) -> BatchJob:
    rows = [{"email": f"imp{i}@example.com", "name": "", "roles": []} for i in range(3)]
    job = invitation_import.invitation_import_start(actor=owner, rows=rows)
    assert invitation_import.invitation_import_run(job.pk, runner="test") == "done"
    job.refresh_from_db()
    return job


def test_a_manager_cannot_cancel_the_owners_job(client_for, owner):
    job = _owners_batch(owner)
    manager = _manager()
    client = client_for(manager)
    listing = client.get(reverse("jobs:list")).content.decode()
    assert str(job.pk) in listing  # they see it (they could run it) ...
    assert reverse("jobs:cancel", args=[job.pk]) not in listing  # ... but are not offered Cancel

    response = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)

    assert "You can only stop your own jobs and those of people you manage" in (
        response.content.decode()
    )
    job.refresh_from_db()
    assert job.status == "pending"
    denied = AuditEvent.objects.get(action="accounts.job.cancelled")
    assert (denied.outcome, denied.actor_id) == ("denied", manager.pk)


def test_a_peer_cannot_cancel_an_admins_job_but_the_owner_can(client_for, owner, admin_user):
    ids = [u.pk for u in make_users(301, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    peer = make_user("peer@example.com", roles=["admin"])
    client_for(peer).post(reverse("jobs:cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "pending"
    client_for(owner).post(reverse("jobs:cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_invitations_create_alone_cannot_read_the_owners_import_results(client_for, owner):
    job = _owners_import(owner)
    inviters = Role.objects.create(
        slug="inviters", name="Inviters", permissions=["invitations:create"]
    )
    inviter = make_user("inviter@example.com", roles=[inviters.slug])
    client = client_for(inviter)

    response = client.get(reverse("invitations:import", args=[job.pk]))

    assert response.status_code == 403
    body = response.content.decode()
    assert "You need the permission invitations:read to see this job&#x27;s results." in body
    assert "imp0@example.com" not in body
    denied = AuditEvent.objects.get(action="accounts.job.viewed", outcome="denied")
    assert denied.actor_id == inviter.pk
    # The jobs page still lists it (they could run one) without a link to the results.
    listing = client.get(reverse("jobs:list")).content.decode()
    assert "Invitation import" in listing
    assert reverse("invitations:import", args=[job.pk]) not in listing


def test_with_invitations_read_the_import_results_are_readable(client_for, owner):
    job = _owners_import(owner)
    role = Role.objects.create(
        slug="invite-desk",
        name="Invite desk",
        permissions=["invitations:create", "invitations:read"],
    )
    reader = make_user("reader@example.com", roles=[role.slug])
    response = client_for(reader).get(reverse("invitations:import", args=[job.pk]))
    assert response.status_code == 200
    assert "imp0@example.com" in response.content.decode()


def test_the_creator_reads_their_own_import_results(client_for, owner):
    inviters = Role.objects.create(
        slug="inviters", name="Inviters", permissions=["invitations:create"]
    )
    inviter = make_user("inviter@example.com", roles=[inviters.slug])
    rows = [{"email": "mine@example.com", "name": "", "roles": []}]
    job = invitation_import.invitation_import_start(actor=inviter, rows=rows)
    invitation_import.invitation_import_run(job.pk, runner="test")
    response = client_for(inviter).get(reverse("invitations:import", args=[job.pk]))
    assert response.status_code == 200
    assert "mine@example.com" in response.content.decode()
