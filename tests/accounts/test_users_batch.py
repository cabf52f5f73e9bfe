"""Batch actions: per-item report, same guards as single actions, one batch
id, bounded queries, limits, and big batches as jobs."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from accounts.models import BatchJob, User
from accounts.selectors import USER_GONE
from accounts.services.batch import MAX_BATCH_SIZE, batch_job_create, batch_run
from audit.models import AuditEvent
from rbac.policies import PolicyDenied
from tests.conftest import make_user, make_users

pytestmark = pytest.mark.django_db


def _by_user(result):
    return {i["user_id"]: i for i in result["items"]}


def test_batch_reports_unknown_duplicates_self_and_owner_per_item(admin_user, owner, member):
    unknown = uuid.uuid4()
    result = batch_run(
        actor=admin_user,
        action="ban",
        user_ids=[member.pk, str(member.pk), unknown, admin_user.pk, owner.pk, "nonsense"],
    )
    items = result["items"]
    assert result["processed"] == 1
    assert result["skipped"] == 3
    assert result["success"] is False
    assert {
        "user_id": str(unknown),
        "error": USER_GONE,
    } in result["errors"]
    assert {"user_id": "nonsense", "error": "Not a valid user id."} in result["errors"]
    reasons = {(i["user_id"], i["outcome"], i["reason"]) for i in items}
    assert (str(member.pk), "skipped", "Listed more than once; processed once.") in reasons
    assert (str(admin_user.pk), "skipped", "You cannot ban yourself.") in reasons
    assert (str(owner.pk), "skipped", "The owner cannot be banned.") in reasons
    member.refresh_from_db()
    assert member.status == "banned"


def test_one_batch_id_on_every_audit_row_including_denials(admin_user, owner, member, viewer):
    result = batch_run(
        actor=admin_user, action="disable", user_ids=[member.pk, viewer.pk, owner.pk]
    )
    events = AuditEvent.objects.filter(batch_id=result["batch_id"])
    assert sorted((e.target_label, e.outcome) for e in events) == [
        ("member@example.com", "success"),
        ("owner@example.com", "denied"),
        ("viewer@example.com", "success"),
    ]


def test_dry_run_changes_nothing_and_writes_no_audit(admin_user, member):
    result = batch_run(actor=admin_user, action="ban", user_ids=[member.pk], dry_run=True)
    assert result["processed"] == 1 and result["dry_run"]
    member.refresh_from_db()
    assert member.status == "active"
    assert not AuditEvent.objects.filter(action="accounts.user.banned").exists()


def test_already_in_that_state_is_skipped(admin_user, member):
    batch_run(actor=admin_user, action="disable", user_ids=[member.pk])
    result = batch_run(actor=admin_user, action="disable", user_ids=[member.pk])
    assert result["processed"] == 0
    assert result["items"][0]["reason"] == "Already disabled."


def test_hierarchy_is_checked_per_item(owner):
    from rbac.models import Role

    role = Role.objects.create(
        slug="support", name="Support", permissions=["users:read", "users:disable"]
    )
    support = make_user("support@example.com")
    support.roles.add(role)
    admin = make_user("boss@example.com", roles=["admin"])
    plain = make_user("plain@example.com")
    result = batch_run(actor=support, action="disable", user_ids=[admin.pk, plain.pk])
    items = _by_user(result)
    assert items[str(plain.pk)]["outcome"] == "processed"
    assert items[str(admin.pk)]["outcome"] == "skipped"
    assert items[str(admin.pk)]["reason"].startswith("You can only manage users whose permissions")


def test_batch_without_the_permission_is_refused_whole_and_audited(editor, member):
    with pytest.raises(PolicyDenied, match="You need the permission users:ban"):
        batch_run(actor=editor, action="ban", user_ids=[member.pk])
    assert AuditEvent.objects.filter(action="accounts.user.banned", outcome="denied").exists()


def test_too_many_ids_is_a_clear_error(admin_user):
    ids = [uuid.uuid4() for _ in range(10_000)]
    with pytest.raises(ValidationError) as exc:
        batch_run(actor=admin_user, action="ban", user_ids=ids)
    assert exc.value.messages == [
        f"A batch can hold at most {MAX_BATCH_SIZE:,} users; this one has 10,000. "
        "Narrow the filter or split the batch."
    ]


def test_unknown_action_and_empty_batch(admin_user, member):
    with pytest.raises(ValidationError, match="Unknown batch action"):
        batch_run(actor=admin_user, action="explode", user_ids=[member.pk])
    with pytest.raises(ValidationError, match="Select at least one user."):
        batch_run(actor=admin_user, action="ban", user_ids=[])


def test_ban_batch_with_an_end_in_the_past_is_refused(admin_user, member):
    with pytest.raises(ValidationError, match="The ban must end in the future."):
        batch_run(
            actor=admin_user,
            action="ban",
            user_ids=[member.pk],
            params={"until": "2000-01-01T00:00:00+00:00"},
        )


def test_batch_is_the_single_action_per_user_with_one_audit_insert(
    admin_user, django_assert_max_num_queries
):
    """A batch locks its users in one statement and reads their permissions
    in one query after the lock, runs each user through `user_ban`
    (savepoint, update, release: 3 queries; its `lock_user` gets the
    locked object back) and ends access and writes the audit rows with a
    few set-based statements at the end."""
    users = make_users(200, prefix="bulk")
    # SQLite caps a statement's parameters, so Django splits the two bulk
    # inserts (200 audit rows: 5 statements; 200 notices: 4) where
    # PostgreSQL writes each in one.
    split_inserts = 0 if connection.vendor == "postgresql" else 4 + 3
    with django_assert_max_num_queries(3 * 200 + 16 + split_inserts):
        result = batch_run(actor=admin_user, action="ban", user_ids=[u.pk for u in users])
    assert result["processed"] == 200
    assert User.objects.filter(status_q_banned()).count() == 200
    assert AuditEvent.objects.filter(batch_id=result["batch_id"]).count() == 200


def status_q_banned():
    from accounts.models import status_q

    return status_q("banned")


def test_every_set_based_action_round_trips(admin_user, member, viewer):
    ids = [member.pk, viewer.pk]
    for action, status in [
        ("disable", "disabled"),
        ("enable", "active"),
        ("ban", "banned"),
        ("unban", "active"),
        ("delete", "deleted"),
        ("restore", "active"),
    ]:
        result = batch_run(actor=admin_user, action=action, user_ids=ids)
        assert result["processed"] == 2, (action, result)
        assert {u.status for u in User.objects.filter(pk__in=ids)} == {status}
    result = batch_run(actor=admin_user, action="force_password_change", user_ids=ids)
    assert User.objects.filter(pk__in=ids, must_change_password=True).count() == 2


def test_role_batch_needs_a_role(admin_user, member):
    with pytest.raises(ValidationError, match="Choose a role."):
        batch_run(actor=admin_user, action="assign_role", user_ids=[member.pk], params={})
    with pytest.raises(ValidationError, match="The owner role cannot"):
        batch_run(
            actor=admin_user, action="assign_role", user_ids=[member.pk], params={"role": "owner"}
        )


def test_role_batch_dry_run_skips_holders(admin_user, member, viewer):
    result = batch_run(
        actor=admin_user,
        action="assign_role",
        user_ids=[member.pk, viewer.pk],
        params={"role": "viewer"},
        dry_run=True,
    )
    items = _by_user(result)
    assert items[str(member.pk)]["outcome"] == "processed"
    assert items[str(viewer.pk)]["reason"] == "Already has this role."


def test_large_batch_runs_as_a_job_and_keeps_its_result(
    admin_user, owner, django_capture_on_commit_callbacks
):
    users = make_users(320, prefix="bulk")
    ids = [u.pk for u in users] + [owner.pk]
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly
        job = batch_job_create(actor=admin_user, action="disable", user_ids=ids)
    job.refresh_from_db()
    assert job.status == "done"
    assert job.done == job.total == 321
    assert job.result["processed"] == 320 and job.result["skipped"] == 1
    assert (
        AuditEvent.objects.filter(batch_id=job.pk, action="accounts.user.disabled").count() == 321
    )
    assert AuditEvent.objects.filter(batch_id=job.pk, action="accounts.batch.queued").count() == 1


def test_batch_page_dry_run_then_execute(client_for, admin_user, member, owner):
    client = client_for(admin_user)
    response = client.post(
        reverse("users:batch"), {"action": "disable", "ids": [member.pk, owner.pk]}
    )
    body = response.content.decode()
    assert "Disable: preview" in body
    assert "The owner cannot be disabled." in body
    member.refresh_from_db()
    assert member.status == "active"
    response = client.post(
        reverse("users:batch"), {"action": "disable", "ids": [member.pk, owner.pk], "execute": "on"}
    )
    assert "Disable: result" in response.content.decode()
    member.refresh_from_db()
    assert member.status == "disabled"


def test_batch_page_select_all_matching_the_filter(client_for, admin_user, owner):
    make_users(5, prefix="match")
    make_users(3, prefix="other")
    client = client_for(admin_user)
    selection = {"action": "disable", "all_matching": "on", "filter-q": "match"}
    preview = client.post(reverse("users:batch"), selection)
    assert "Disable 5 users" in preview.content.decode()
    response = client.post(
        reverse("users:batch"),
        {**selection, "selection": preview.context["selection"], "execute": "on"},
    )
    assert response.status_code == 200
    assert User.objects.filter(disabled_at__isnull=False).count() == 5


def test_batch_page_large_selection_becomes_a_job_page(
    client_for, admin_user, owner, django_capture_on_commit_callbacks
):
    make_users(310, prefix="job")
    client = client_for(admin_user)
    selection = {"action": "force_password_change", "all_matching": "on", "filter-q": "job"}
    digest = client.post(reverse("users:batch"), selection).context["selection"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("users:batch"), {**selection, "selection": digest, "execute": "on"}
        )
    assert response.status_code == 302
    job = BatchJob.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "<progress" in page and "Finished" in page
    partial = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="job-progress"' in partial
    assert job.total == 310


def test_batch_page_with_no_selection_is_a_clear_error(client_for, admin_user):
    response = client_for(admin_user).post(reverse("users:batch"), {"action": "ban"})
    assert response.status_code == 400
    assert "Select at least one user." in response.content.decode()


def test_batch_page_with_too_many_fields_is_a_clear_error(client_for, admin_user):
    ids = [str(uuid.uuid4()) for _ in range(1200)]
    response = client_for(admin_user).post(reverse("users:batch"), {"action": "ban", "ids": ids})
    assert response.status_code == 400
    assert "Too many users in one request" in response.content.decode()


def test_a_preview_pages_its_rows_and_shows_only_the_skipped_on_request(
    client_for, admin_user, owner
):
    make_users(118, prefix="page")
    client = client_for(admin_user)
    selection = {"action": "disable", "all_matching": "on"}  # 118 + owner + admin
    body = client.post(reverse("users:batch"), selection).content.decode()
    assert body.count('<tr>\n        <td class="address">') == 50
    assert "1–50 of 120" in body and "Disable 118 users" in body
    third = client.post(reverse("users:batch"), {**selection, "rows": "3"}).content.decode()
    assert third.count('<tr>\n        <td class="address">') == 20
    assert "101–120 of 120" in third
    problems = client.post(
        reverse("users:batch"), {**selection, "rows": "1", "only": "problems"}
    ).content.decode()
    assert problems.count('<tr>\n        <td class="address">') == 2
    assert "The owner cannot be disabled." in problems and "yourself" in problems
    assert "Only skipped or errors (2)" in problems
    # Still a preview: nothing changed, and the run button covers them all.
    assert "Disable 118 users" in problems
    assert not User.objects.filter(disabled_at__isnull=False).exists()


def test_a_job_page_pages_its_rows_and_filters_the_skipped(
    client_for, admin_user, owner, django_capture_on_commit_callbacks
):
    make_users(305, prefix="jobrows")
    client = client_for(admin_user)
    selection = {"action": "force_password_change", "all_matching": "on"}
    digest = client.post(reverse("users:batch"), selection).context["selection"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("users:batch"), {**selection, "selection": digest, "execute": "on"}
        )
    url = response["Location"]
    page = client.get(url).content.decode()
    assert page.count('<tr>\n        <td class="address">') == 50
    assert "1–50 of 307" in page
    last = client.get(url, {"rows": "7"}).content.decode()
    assert last.count('<tr>\n        <td class="address">') == 7 and "301–307 of 307" in last
    skipped = client.get(url, {"rows": "1", "only": "problems"}).content.decode()
    assert skipped.count('<tr>\n        <td class="address">') == 2
    assert "The owner" in skipped
