"""The API batch after issue 22: above INLINE_LIMIT a durable job (202 and
the job's URL, as the page redirects to its job); every declared batchable
action through it, with the single action's demands (erasing needs the
current password) and its outcome (re-banning changes the ban)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import BatchJob, OutboundEmail, User
from accounts.services.batch import INLINE_LIMIT
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_users

pytestmark = pytest.mark.django_db

BATCH = "/api/admin/users/batch"


@pytest.fixture
def k(owner, key_for):
    return key_for(owner)


def test_a_batch_above_the_inline_limit_becomes_a_job_answering_202_with_its_url(
    call, k, django_capture_on_commit_callbacks
):
    users = make_users(INLINE_LIMIT + 5, prefix="bulk")
    ids = [str(u.pk) for u in users]
    with django_capture_on_commit_callbacks(execute=True):
        status, body, _ = call("post", f"{BATCH}/force-password-change", k, {"user_ids": ids})
    assert status == 202, body
    job = BatchJob.objects.get(pk=body["job_id"])
    assert body["url"] == f"/api/admin/jobs/{job.pk}" and body["total"] == INLINE_LIMIT + 5
    status, read, _ = call("get", body["url"], k)
    assert status == 200 and read["id"] == str(job.pk)
    # The job ran (eagerly, after the commit): every user was changed.
    assert User.objects.filter(email__startswith="bulk", must_change_password=True).count() == (
        INLINE_LIMIT + 5
    )


def test_a_dry_run_above_the_inline_limit_stays_inline(call, k):
    ids = [str(u.pk) for u in make_users(INLINE_LIMIT + 1, prefix="dry")]
    status, body, _ = call("post", f"{BATCH}/disable", k, {"user_ids": ids, "dry_run": True})
    assert status == 200 and body["dry_run"] and body["processed"] == INLINE_LIMIT + 1
    assert not BatchJob.objects.exists()


def test_re_banning_in_a_batch_changes_the_ban_like_the_single_action(call, k, member):
    member.banned_until = timezone.now() + timedelta(days=3)
    member.save()
    status, body, _ = call(
        "post", f"{BATCH}/ban", k, {"user_ids": [str(member.pk)], "reason": "again"}
    )
    assert status == 200 and body["processed"] == 1, body
    member.refresh_from_db()
    assert member.is_banned_permanently and member.ban_reason == "again"


def test_a_batch_erasure_needs_the_current_password_as_the_single_one_does(call, k, member):
    status, body, _ = call("post", f"{BATCH}/hard-delete", k, {"user_ids": [str(member.pk)]})
    assert status == 403 and body["error"] == "reauthentication_required", body
    assert User.objects.filter(pk=member.pk).exists()
    status, body, _ = call(
        "post",
        f"{BATCH}/hard-delete",
        k,
        {"user_ids": [str(member.pk)], "current_password": "wrong"},
    )
    assert status == 403 and not body.get("processed")
    status, body, _ = call(
        "post",
        f"{BATCH}/hard-delete",
        k,
        {"user_ids": [str(member.pk)], "current_password": STRONG_PASSWORD},
    )
    assert status == 200 and body["processed"] == 1, body
    assert not User.objects.filter(pk=member.pk).exists()
    event = AuditEvent.objects.get(action="accounts.user.erased", target_id=str(member.pk))
    assert event.target_label == "member@example.com" and event.batch_id is not None


def test_a_batch_sends_reset_links_by_email(call, k, member, viewer):
    ids = [str(member.pk), str(viewer.pk)]
    status, body, _ = call("post", f"{BATCH}/reset-password", k, {"user_ids": ids})
    assert status == 200 and body["processed"] == 2, body
    assert set(
        OutboundEmail.objects.filter(template="password_reset").values_list("to", flat=True)
    ) == {
        member.email,
        viewer.email,
    }
    events = AuditEvent.objects.filter(action="accounts.password.reset_link_created")
    assert {tuple(e.changes["emailed"]) for e in events} == {(None, True)}


def test_a_batch_sends_sign_in_links_of_the_type_asked(call, k, member):
    status, body, _ = call(
        "post", f"{BATCH}/magic-link", k, {"user_ids": [str(member.pk)], "type": "signup"}
    )
    assert status == 200 and body["processed"] == 1, body
    assert OutboundEmail.objects.filter(template="magic_link_signup", to=member.email).exists()
    status, body, _ = call(
        "post", f"{BATCH}/magic-link", k, {"user_ids": [str(member.pk)], "type": "nonsense"}
    )
    assert status in (400, 422)


def test_the_verification_actions_run_in_a_batch(call, k, member):
    User.objects.filter(pk=member.pk).update(email_verified_at=None)
    status, body, _ = call(
        "post", f"{BATCH}/resend-verification", k, {"user_ids": [str(member.pk)]}
    )
    assert status == 200 and body["processed"] == 1, body
    assert OutboundEmail.objects.filter(template="email_verify", to=member.email).exists()
    status, body, _ = call("post", f"{BATCH}/mark-verified", k, {"user_ids": [str(member.pk)]})
    assert status == 200 and body["processed"] == 1, body
    member.refresh_from_db()
    assert member.email_verified_at is not None
    status, body, _ = call("post", f"{BATCH}/mark-verified", k, {"user_ids": [str(member.pk)]})
    assert body["items"][0]["reason"] == "Already verified."
