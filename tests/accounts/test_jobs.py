"""Durable jobs (accounts.services.jobs): a job row is the source of truth,
its task only a wake-up call. Each test names the fault it defends against
(issue 17)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts import tasks
from accounts.models import BatchJob, User
from accounts.services import batch, invitation_import, jobs
from audit.models import AuditEvent
from rbac.policies import PolicyDenied
from tests.conftest import make_user, make_users


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.users_batch_run, "delay", refuse)
    monkeypatch.setattr(tasks.invitation_import, "delay", refuse)
    return monkeypatch


def _expire(job):
    BatchJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_a_job_created_while_the_broker_is_down_is_queued_by_the_sweep(
    admin_user, owner, broker_down, django_capture_on_commit_callbacks
):
    ids = [u.pk for u in make_users(301, prefix="job")]
    with django_capture_on_commit_callbacks(execute=True):
        job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    job.refresh_from_db()
    assert job.status == "pending" and job.done == 0
    assert job.last_error == jobs.QUEUE_DOWN
    assert job.lease_until <= timezone.now()
    broker_down.undo()  # the broker is back: the next sweep queues it
    assert jobs.job_sweep() == 1
    job.refresh_from_db()
    assert job.status == "done" and job.done == 301
    assert job.result["processed"] == 301 and job.result["skipped"] == 0


def test_an_import_started_while_the_broker_is_down_is_not_run_in_the_request(
    admin_user, broker_down, django_capture_on_commit_callbacks
):
    rows = [{"email": f"imp{i}@example.com", "name": "", "roles": []} for i in range(30)]
    with django_capture_on_commit_callbacks(execute=True):
        job = invitation_import.invitation_import_start(actor=admin_user, rows=rows)
    job.refresh_from_db()
    assert job.status == "pending" and job.done == 0
    assert job.last_error == jobs.QUEUE_DOWN
    assert not User.objects.filter(email__startswith="imp").exists()
    broker_down.undo()
    jobs.job_sweep()
    job.refresh_from_db()
    assert job.status == "done" and job.done == 30
    assert sum(1 for r in job.result["items"] if r["ok"]) == 30


def test_a_database_error_mid_job_keeps_the_lease_and_the_sweep_resumes_exactly(
    admin_user, owner, monkeypatch
):
    ids = [u.pk for u in make_users(600, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    real, calls = batch.batch_run, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(batch, "batch_run", flaky)
    with pytest.raises(OperationalError):
        batch.batch_job_run(job.pk, runner="first")
    job.refresh_from_db()
    assert job.status == "running" and job.done == batch.CHUNK_SIZE
    assert job.lease_until > timezone.now()  # held: the task's retry may take it back
    assert jobs.job_sweep() == 0
    _expire(job)  # the retry could not be queued either: the lease runs out
    assert jobs.job_sweep() == 1
    job.refresh_from_db()
    assert job.status == "done" and job.done == 600
    assert job.result["processed"] == 600 and job.result["skipped"] == 0
    disabled = AuditEvent.objects.filter(batch_id=job.pk, action="accounts.user.disabled")
    assert disabled.count() == 600  # nobody processed twice


def test_a_crash_after_a_chunk_is_done_rolls_its_progress_back_with_it(
    admin_user, owner, monkeypatch
):
    """Progress and outcomes commit with the chunk: a crash between the work
    and the progress write loses both, so the rerun reports 'processed',
    not 'skipped: already disabled'."""
    ids = [u.pk for u in make_users(300, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    real_result, calls = batch._result, []

    def crash_after_work(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("the worker's connection died after the chunk")
        return real_result(*args, **kwargs)

    monkeypatch.setattr(batch, "_result", crash_after_work)
    with pytest.raises(OperationalError):
        batch.batch_job_run(job.pk, runner="first")
    assert User.objects.filter(pk__in=ids, disabled_at__isnull=False).count() == 0
    assert batch.batch_job_run(job.pk, runner="first") == "done"
    job.refresh_from_db()
    assert job.result["processed"] == 300 and job.result["skipped"] == 0


def test_a_second_runner_never_redoes_a_chunk(admin_user, owner):
    ids = [u.pk for u in make_users(301, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    assert jobs.job_claim(job.pk, runner="first") is not None
    assert batch.batch_job_run(job.pk, runner="second") == "skipped"  # lease held
    assert batch.batch_job_run(job.pk, runner="first") == "done"
    assert batch.batch_job_run(job.pk, runner="first") == "skipped"
    assert (
        AuditEvent.objects.filter(batch_id=job.pk, action="accounts.user.disabled").count() == 301
    )


def test_a_job_that_never_progresses_is_failed_with_the_reason_and_can_be_resumed(
    admin_user, owner, settings, django_capture_on_commit_callbacks
):
    ids = [u.pk for u in make_users(301, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    BatchJob.objects.filter(pk=job.pk).update(
        attempts=settings.JOB_MAX_ATTEMPTS, last_error="OperationalError: out of memory"
    )
    _expire(job)
    assert jobs.job_sweep() == 0
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.last_error == (
        f"No progress after {settings.JOB_MAX_ATTEMPTS} attempts "
        "(last error: OperationalError: out of memory). Resume it once the cause is fixed."
    )
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_resume(actor=admin_user, job=job)
    job.refresh_from_db()
    assert job.status == "done" and job.result["processed"] == 301
    assert AuditEvent.objects.filter(batch_id=job.pk, action="accounts.job.resumed").count() == 1


def test_a_refused_chunk_fails_the_job_with_the_guards_message(admin_user, owner, monkeypatch):
    ids = [u.pk for u in make_users(301, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)

    def refuse(**kwargs):
        raise PolicyDenied("permission_denied", "You need the users:disable permission.")

    monkeypatch.setattr(batch, "batch_run", refuse)
    assert batch.batch_job_run(job.pk, runner="r") == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.result["failure"] == job.last_error
    assert job.last_error == "You need the users:disable permission."


def test_a_cancelled_job_stops_before_its_next_chunk(admin_user, owner):
    ids = [u.pk for u in make_users(301, prefix="job")]
    job = batch.batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    jobs.job_cancel(actor=admin_user, job=job)
    assert batch.batch_job_run(job.pk, runner="r") == "skipped"
    job.refresh_from_db()
    assert job.status == "cancelled" and job.done == 0
    assert AuditEvent.objects.filter(batch_id=job.pk, action="accounts.job.cancelled").count() == 1


def test_only_the_creator_may_resume_a_job(admin_user, owner):
    other_admin = make_user("other-admin@example.com", roles=["admin"])
    job = batch.batch_job_create(
        actor=admin_user, action="disable", user_ids=[u.pk for u in make_users(301, prefix="job")]
    )
    jobs.job_cancel(actor=owner, job=job)  # a peer may not stop it: the owner does
    with pytest.raises(PolicyDenied) as refused:
        jobs.job_resume(actor=other_admin, job=job)
    assert refused.value.code == "not_job_creator"


def test_a_job_page_is_visible_only_to_its_creator_and_who_could_run_it(
    client_for, admin_user, owner, viewer
):
    job = batch.batch_job_create(
        actor=admin_user, action="disable", user_ids=[u.pk for u in make_users(301, prefix="job")]
    )
    url = reverse("users:batch_job", args=[job.pk])
    assert client_for(viewer).get(url).status_code == 404  # holds users:read only
    assert client_for(admin_user).get(url).status_code == 200
    other_admin = make_user("other-admin@example.com", roles=["admin"])
    assert client_for(other_admin).get(url).status_code == 200  # could run it


def test_the_jobs_page_lists_visible_jobs_with_progress_and_controls(
    client_for, admin_user, owner, viewer
):
    job = batch.batch_job_create(
        actor=admin_user, action="disable", user_ids=[u.pk for u in make_users(301, prefix="job")]
    )
    body = client_for(admin_user).get(reverse("jobs:list")).content.decode()
    assert "Disable" in body and "0 / 301" in body
    assert reverse("jobs:cancel", args=[job.pk]) in body
    body = client_for(viewer).get(reverse("jobs:list")).content.decode()
    assert str(job.pk) not in body and "No jobs" in body


def test_cancel_and_resume_from_the_page_are_guarded(client_for, admin_user, owner, viewer):
    job = batch.batch_job_create(
        actor=admin_user, action="disable", user_ids=[u.pk for u in make_users(301, prefix="job")]
    )
    cancel = reverse("jobs:cancel", args=[job.pk])
    assert client_for(viewer).post(cancel).status_code == 404
    job.refresh_from_db()
    assert job.status == "pending"
    response = client_for(admin_user).post(cancel)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    other_admin = make_user("other-admin@example.com", roles=["admin"])
    client = client_for(other_admin)
    response = client.post(reverse("jobs:resume", args=[job.pk]), follow=True)
    assert "Only the person who started this job can resume it" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_an_import_sent_while_the_broker_is_down_answers_at_once_and_says_it_is_queued(
    client_for, admin_user, broker_down, invite_through_pages
):
    client = client_for(admin_user)
    addresses = " ".join(f"queued{i}@example.com" for i in range(15))
    response = invite_through_pages(client, addresses, expires_days=3)
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert jobs.QUEUE_DOWN in body
    assert "Sending invitations: 0 of 15" in body
    assert not User.objects.filter(email__startswith="queued").exists()
