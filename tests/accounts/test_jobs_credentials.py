# Fixtures imported from another module are "redefined" as test arguments.
# ruff: noqa: F811
"""A background job acts through the credential that queued it, and stops
when that credential ends (issue 22, root 1: a batch queued from a session
ran to the end after its person signed out, after all their sessions were
ended, after their password was reset). Each test queues through the real
door and lets a real Celery worker (Redis broker, PostgreSQL) run the job."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import BatchJob, User
from accounts.services import batch
from accounts.services.api_keys import api_key_authenticate, api_key_create
from tests.accounts.test_emails_reliability import (  # noqa: F401
    _database_url,
    broker,
    celery_start,
    services_ready,
    smtp_server,
    worker,
)
from tests.conftest import make_users, verify_session

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.adversarial]

COUNT = batch.INLINE_LIMIT + 1
CREDENTIAL_ENDED = "Credential ended"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    verify_session(client, user)
    client.get("/healthz")  # records the session, as the sign-in view does
    return client


def _queue_disable_from_page(client, ids) -> BatchJob:
    response = client.post(
        reverse("users:batch"),
        {"action": "disable", "ids": [str(i) for i in ids], "execute": "1"},
    )
    assert response.status_code == 302, response.content[:500]
    return BatchJob.objects.get()


def _drained(broker) -> bool:
    return redis.Redis.from_url(broker.url).llen("celery") == 0


def _disabled(ids) -> int:
    return User.objects.filter(pk__in=ids, disabled_at__isnull=False).count()


def test_a_job_stops_when_the_session_that_queued_it_is_signed_out(
    worker, broker, admin_user, owner
):
    ids = [u.pk for u in make_users(COUNT, prefix="signout")]
    client = _signed_in(admin_user)
    job = _queue_disable_from_page(client, ids)
    assert job.created_via == "session"
    assert job.created_via_session == client.session.session_key

    client.post("/logout/")
    job.refresh_from_db()
    assert job.status == "stopped" and job.last_error.startswith(CREDENTIAL_ENDED)

    worker.start()
    worker.wait_for(lambda: _drained(broker), timeout=60, what="the worker to take the task")
    worker.stop()
    job.refresh_from_db()
    assert (job.status, job.done, _disabled(ids)) == ("stopped", 0, 0)
    body = _signed_in(admin_user).get(reverse("jobs:list")).content.decode()
    assert "Stopped" in body and CREDENTIAL_ENDED in body


def test_each_chunk_checks_the_credential_and_a_job_whose_session_expired_stops(
    worker, broker, admin_user, owner
):
    ids = [u.pk for u in make_users(COUNT, prefix="expired")]
    client = _signed_in(admin_user)
    job = _queue_disable_from_page(client, ids)
    # The session runs out on its own: nothing ends it, the chunk notices.
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    worker.start()
    worker.wait_for(
        lambda: BatchJob.objects.get(pk=job.pk).status not in ("pending", "running"),
        timeout=60,
        what="the job to stop",
    )
    job.refresh_from_db()
    assert job.status == "stopped", job.last_error
    assert job.last_error == "Credential ended: the session it was made in has ended."
    assert (job.done, _disabled(ids)) == (0, 0)


def test_ending_a_persons_sessions_stops_their_jobs_and_resuming_acts_through_a_new_one(
    worker, broker, admin_user, owner
):
    ids = [u.pk for u in make_users(COUNT, prefix="ended")]
    job = _queue_disable_from_page(_signed_in(admin_user), ids)
    owner_client = _signed_in(owner)
    response = owner_client.post(reverse("user_security:sessions_end_all", args=[admin_user.pk]))
    assert response.status_code in (200, 302)
    job.refresh_from_db()
    assert job.status == "stopped"

    again = _signed_in(admin_user)
    assert again.post(reverse("jobs:resume", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == "pending" and job.created_via_session == again.session.session_key
    worker.start()
    worker.wait_for(
        lambda: BatchJob.objects.get(pk=job.pk).status == "done", timeout=60, what="the job"
    )
    assert _disabled(ids) == COUNT


def test_revoking_the_key_that_queued_a_job_stops_it(worker, broker, client, admin_user, owner):
    ids = [u.pk for u in make_users(COUNT, prefix="keyjob")]
    key, raw = api_key_create(actor=admin_user, name="batch", template="full_access")
    # The API-key door: the user acting through the key, with its scopes.
    job = batch.batch_job_create(actor=api_key_authenticate(raw), action="disable", user_ids=ids)
    assert (job.created_via, job.created_via_key_id) == ("api_key", key.pk)

    response = client.delete(f"/api/admin/api-keys/{key.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 204
    job.refresh_from_db()
    assert job.status == "stopped"
    assert "API key" in job.last_error

    worker.start()
    worker.wait_for(lambda: _drained(broker), timeout=60, what="the worker to take the task")
    worker.stop()
    assert _disabled(ids) == 0
