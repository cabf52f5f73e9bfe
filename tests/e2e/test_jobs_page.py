"""The Jobs page in Chromium: a running, a stalled, a failed, a stopped
(credential ended) and a finished job, with progress, heartbeat age, and
cancel / resume (issue 17, issue 22)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.e2e import a11y
from tests.e2e.helpers import open_as
from tests.faults import row_lock_hold

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs(builtin_roles, settings):
    from accounts.models import BatchJob

    settings.CELERY_TASK_ALWAYS_EAGER = False  # leave the jobs where we put them
    make_user("owner@example.com", roles=["owner"], is_owner=True)
    admin = make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    now = timezone.now()

    def job(action, status, done, total, permission, **fields):
        return BatchJob.objects.create(
            actor=admin,
            action=action,
            status=status,
            done=done,
            total=total,
            permission=permission,
            created_at=now - timedelta(minutes=5),
            **fields,
        )

    running = job(
        "disable",
        "running",
        500,
        1200,
        "users:disable",
        heartbeat_at=now - timedelta(seconds=3),
        lease_until=now + timedelta(seconds=57),
    )
    job(
        "invite",
        "running",
        100,
        300,
        "invitations:create",
        heartbeat_at=now - timedelta(seconds=95),
        lease_until=now - timedelta(seconds=35),
    )
    failed = job(
        "ban",
        "failed",
        250,
        1000,
        "users:ban",
        finished_at=now,
        last_error="No progress after 5 attempts (last error: OperationalError: "
        "server closed the connection unexpectedly). Resume it once the cause is fixed.",
        result={
            "items": [],
            "processed": 250,
            "skipped": 0,
            "errors": [],
            "failure": "No progress after 5 attempts.",
        },
    )
    job(
        "delete",
        "stopped",
        250,
        700,
        "users:delete",
        finished_at=now,
        last_error="Credential ended: the session it was made in has ended.",
        created_via="session",
        created_via_session="gone",
    )
    job(
        "enable",
        "done",
        400,
        400,
        "users:disable",
        finished_at=now,
        result={"items": [], "processed": 400, "skipped": 0, "errors": []},
    )
    return running, failed


def test_the_jobs_page_shows_progress_heartbeat_and_controls(live_server, page, screenshot, jobs):
    running, failed = jobs
    page.on("dialog", lambda d: d.accept())
    open_as(page, live_server.url, "admin@example.com", "/jobs/")
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_text("500 / 1200")).to_be_visible()
    expect(
        page.get_by_text("No progress lately; it will be restarted automatically.")
    ).to_be_visible()
    expect(page.get_by_text("Resume it once the cause is fixed.")).to_be_visible()
    # A job whose credential ended says so, and its creator may resume it.
    expect(
        page.get_by_text("Credential ended: the session it was made in has ended.")
    ).to_be_visible()
    expect(page.get_by_text("Stopped", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Resume Delete")).to_be_visible()
    a11y.check(page, "jobs list")
    screenshot(page, "jobs-list", phone=True)
    page.goto(f"{live_server.url}/users/batch/{failed.pk}/")
    expect(page.get_by_role("button", name="Resume Ban")).to_be_visible()
    screenshot(page, "jobs-failed-batch")
    page.goto(f"{live_server.url}/jobs/")
    page.get_by_role("button", name="Cancel Disable").click()
    page.wait_for_load_state()
    expect(page.get_by_text("The job was cancelled.")).to_be_visible()
    running.refresh_from_db()
    assert running.status == "cancelled"
    screenshot(page, "jobs-after-cancel")


def test_someone_elses_jobs_show_no_controls_they_may_not_use(
    live_server, page, screenshot, jobs, builtin_roles
):
    """An inviter (invitations:create only) sees the admin's import on the
    jobs page, as someone who could run one, but neither a Cancel button
    (the hierarchy over its creator) nor a link to its per-address results
    (invitations:read)."""
    from rbac.models import Role

    inviters = Role.objects.create(
        slug="inviters", name="Inviters", permissions=["invitations:create"]
    )
    make_user("ivy@example.com", roles=[inviters.slug], name="Ivy Inviter")
    open_as(page, live_server.url, "ivy@example.com", "/jobs/")
    row = page.get_by_role("row").filter(has_text="Invitation import")
    expect(row).to_be_visible()
    assert row.get_by_role("link").count() == 0
    assert row.get_by_role("button").count() == 0
    expect(page.get_by_text("Disable", exact=True)).to_be_hidden()  # needs users:disable
    screenshot(page, "jobs-list-inviter")


def test_a_dialog_action_behind_a_busy_row_lock_says_busy_retry(
    require_postgres, live_server, page, screenshot, builtin_roles, monkeypatch
):
    """Another session holds the user's row (a stuck writer); the page's
    lock wait runs out (lock_timeout) and the dialog says busy, retry.
    (The audit chain's lock no longer stops writers: issue 29.)"""
    from accounts.services import users as user_services

    real_lock_user = user_services.lock_user

    def impatient_lock_user(user):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '500ms'")
        return real_lock_user(user)

    monkeypatch.setattr(user_services, "lock_user", impatient_lock_user)
    make_user("owner@example.com", roles=["owner"], is_owner=True)
    make_user("admin@example.com", roles=["admin"], name="Adam Admin")
    member = make_user("linus@example.com", name="Linus Torvalds")
    open_as(page, live_server.url, "admin@example.com", f"/users/{member.pk}/")
    page.get_by_role("link", name="Disable").click()
    page.wait_for_selector(".modal.show")
    page.wait_for_timeout(500)  # the fade-in
    holder = row_lock_hold(member)
    try:
        page.locator(".modal.show").get_by_role("button", name="Disable").click()
        alert = page.locator(".modal.show .alert-warning")
        alert.wait_for()
        assert alert.text_content().startswith("The server is busy right now; nothing was changed.")
        screenshot(page, "busy-retry-dialog")
    finally:
        holder.rollback()
        holder.close()
    member.refresh_from_db()
    assert member.status == "active"
