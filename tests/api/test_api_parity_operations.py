"""API parity with the dashboard: the email outbox, background jobs and the
invitation import, through the real API door with the pages' services and
guards."""

from __future__ import annotations

import pytest

from accounts.models import BatchJob, EmailStatus, Invitation, OutboundEmail
from accounts.services import batch, invitation_import
from accounts.services.api_keys import api_key_create
from audit.models import AuditEvent
from rbac.permissions import TEMPLATES
from tests.conftest import make_user, make_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def k(owner, key_for):
    return key_for(owner)


@pytest.fixture
def key_of(owner):
    """Bearer headers for a key of `user`, made by the owner."""

    def make(user, *, template=None, scopes=()):
        _key, raw = api_key_create(
            actor=owner, user=user, name="tests", template=template, scopes=scopes
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return make


# --- emails ---------------------------------------------------------------------


def _email(status, n=0, **fields):
    return OutboundEmail.objects.create(
        to=f"to{n}@example.com",
        template="password_reset",
        subject=f"Subject {n}",
        body_text="SECRET-BODY https://example.com/reset/token",
        body_html="<p>SECRET-BODY</p>",
        message_id=f"<m{n}-{status}@handover>",
        status=status,
        **fields,
    )


def test_emails_list_has_no_bodies_filters_and_paginates(call, k):
    for n in range(3):
        _email(EmailStatus.FAILED, n, last_error="550 no such user")
    _email(EmailStatus.SENT, 9)
    status, body, response = call("get", "/api/admin/emails?status=failed&limit=2", k)
    assert status == 200 and len(body) == 2
    assert all(e["status"] == "failed" for e in body)
    assert "SECRET-BODY" not in response.content.decode()
    assert "body_text" not in body[0] and "body_html" not in body[0]
    link = response["Link"]
    assert 'rel="next"' in link
    next_url = link[1 : link.index(">")]
    status, rest, _ = call("get", next_url, k)
    assert status == 200 and len(rest) == 1
    assert not {e["id"] for e in body} & {e["id"] for e in rest}


def test_emails_list_parses_status_strictly_and_needs_emails_read(call, k, key_for, owner):
    status, body, _ = call("get", "/api/admin/emails?status=bounced", k)
    assert (status, body["error"]) == (400, "validation_error")
    narrow = key_for(owner, scopes=["users:read"])
    assert call("get", "/api/admin/emails", narrow)[0] == 403


def test_retry_a_failed_email_and_not_a_sent_one(call, k, key_for, owner):
    failed = _email(EmailStatus.FAILED, 1, attempts=5)
    sent = _email(EmailStatus.SENT, 2)
    status, body, _ = call("post", f"/api/admin/emails/{failed.pk}/retry", k)
    assert status == 200 and body["attempts"] == 0
    failed.refresh_from_db()
    assert failed.status in ("pending", "sent")  # queued again (an eager worker may send it)
    assert AuditEvent.objects.filter(action="accounts.email.retried", outcome="success").exists()
    status, body, _ = call("post", f"/api/admin/emails/{sent.pk}/retry", k)
    assert (status, body["error"]) == (409, "sent")
    narrow = key_for(owner, scopes=["emails:read"])
    status, body, _ = call("post", f"/api/admin/emails/{failed.pk}/retry", narrow)
    assert status == 403
    status, body, _ = call("post", f"/api/admin/emails/{owner.pk}/retry", k)
    assert (status, body["error"]) == (404, "not_found")


# --- jobs -----------------------------------------------------------------------


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


def test_jobs_list_get_cancel_resume(call, k, owner):
    job = _owners_batch(owner)
    status, body, _ = call("get", "/api/admin/jobs", k)
    assert status == 200 and [j["id"] for j in body] == [str(job.pk)]
    assert body[0]["total"] == 301 and body[0]["can_cancel"] is True
    status, body, _ = call("get", f"/api/admin/jobs/{job.pk}", k)
    assert status == 200 and body["items"] == [] and body["status"] == "pending"
    status, body, _ = call("post", f"/api/admin/jobs/{job.pk}/cancel", k)
    assert status == 200 and body["status"] == "cancelled" and body["can_resume"] is True
    status, body, _ = call("post", f"/api/admin/jobs/{job.pk}/resume", k)
    assert status == 200 and body["status"] == "pending"
    status, body, _ = call("post", f"/api/admin/jobs/{job.pk}/resume", k)
    assert (status, body["error"]) == (409, "not_resumable")


def test_a_job_someone_may_not_see_is_404(call, key_of, owner, viewer):
    job = _owners_batch(owner)
    k = key_of(viewer, template="viewer")
    assert call("get", "/api/admin/jobs", k)[1] == []
    for method, suffix in (("get", ""), ("post", "/cancel"), ("post", "/resume")):
        status, body, _ = call(method, f"/api/admin/jobs/{job.pk}{suffix}", k)
        assert (status, body["error"]) == (404, "not_found")
    assert BatchJob.objects.get(pk=job.pk).status == "pending"


def test_a_manager_sees_the_owners_job_but_cannot_cancel_it(call, key_of, owner):
    job = _owners_batch(owner)
    manager = _manager()
    k = key_of(manager, template="manager")
    status, body, _ = call("get", f"/api/admin/jobs/{job.pk}", k)
    assert status == 200 and body["can_cancel"] is False
    status, body, _ = call("post", f"/api/admin/jobs/{job.pk}/cancel", k)
    assert status in (403, 409)
    assert BatchJob.objects.get(pk=job.pk).status == "pending"
    denied = AuditEvent.objects.get(action="accounts.job.cancelled")
    assert (denied.outcome, denied.actor_id) == ("denied", manager.pk)


def test_import_results_need_invitations_read(call, key_for, key_of, owner):
    job = _owners_import(owner)
    reader = key_for(owner, scopes=["invitations:create"])
    # The owner created it: their own job's results, whatever the key.
    status, body, _ = call("get", f"/api/admin/jobs/{job.pk}", reader)
    assert status == 200 and len(body["items"]) == 3
    someone = make_user(
        "inviter@example.com", direct_permissions=["invitations:create", "users:read"]
    )
    k = key_of(someone, scopes=["invitations:create"])
    status, body, _ = call("get", f"/api/admin/jobs/{job.pk}", k)
    assert status == 200 and body["can_read_results"] is False and body["items"] is None


# --- invitation import ------------------------------------------------------------

CSV = "email,name,roles\nann@example.com,Ann,viewer\nnot-an-address,,\nbob@example.com,Bob,\n"


def test_import_dry_run_reports_every_row_and_sends_nothing(call, k):
    status, body, _ = call(
        "post", "/api/admin/invitations/import", k, {"csv": CSV, "dry_run": True}
    )
    assert status == 200, body
    assert (body["valid"], body["invalid"], body["sent"]) == (2, 1, 0)
    bad = next(r for r in body["rows"] if r["errors"])
    assert bad["line"] == 3 and "not a valid email address" in bad["errors"][0]
    assert not Invitation.objects.exists()


def test_import_inline_sends_valid_rows_with_links(call, k):
    status, body, _ = call("post", "/api/admin/invitations/import", k, {"csv": CSV})
    assert status == 200, body
    assert (body["sent"], body["failed"], body["invalid"], body["job_id"]) == (2, 0, 1, None)
    sent = [r for r in body["rows"] if r["sent"]]
    assert {r["email"] for r in sent} == {"ann@example.com", "bob@example.com"}
    assert all(r["link"] and r["invitation_id"] for r in sent)
    assert Invitation.objects.count() == 2


def test_import_above_the_inline_limit_is_a_job(call, k, owner):
    n = invitation_import.INLINE_LIMIT + 5
    text = "\n".join(f"bulk{i}@example.com" for i in range(n))
    status, body, _ = call("post", "/api/admin/invitations/import", k, {"csv": text})
    assert status == 202, body
    job = BatchJob.objects.get(pk=body["job_id"])
    assert (job.kind, job.total) == ("import", n)
    assert invitation_import.invitation_import_run(job.pk, runner="test") == "done"
    status, detail, _ = call("get", f"/api/admin/jobs/{job.pk}", k)
    assert detail["status"] == "done" and sum(1 for i in detail["items"] if i["ok"]) == n


def test_import_keeps_escalation_and_needs_invitations_create(call, key_of, owner, viewer):
    held = ["invitations:create", "roles:assign"]
    inviter = make_user("inviter@example.com", direct_permissions=held)
    k = key_of(inviter, scopes=held)
    status, body, _ = call(
        "post", "/api/admin/invitations/import", k, {"csv": "x@example.com,,admin"}
    )
    assert status == 200 and body["invalid"] == 1
    assert "cannot grant permissions" in body["rows"][0]["errors"][0]
    v = key_of(viewer, template="viewer")
    assert call("post", "/api/admin/invitations/import", v, {"csv": "y@example.com"})[0] == 403
    assert not Invitation.objects.exists()


def test_import_refuses_a_broken_csv(call, k):
    status, body, _ = call("post", "/api/admin/invitations/import", k, {"csv": "a@example.com\x00"})
    assert status == 400
