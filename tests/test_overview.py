"""The overview: server-rendered SVG charts, each figure a link to the
records behind it, cheap (aggregates, cached for a minute)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit import services as audit
from audit.models import AuditEvent
from handover import overview

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_signins_per_day_counts_successes_and_failures_by_day(monkeypatch, owner):
    now = timezone.now()
    two_days_ago = now - dt.timedelta(days=2)
    monkeypatch.setattr(audit.timezone, "now", lambda: two_days_ago)
    audit.record("accounts.login.succeeded", actor=owner)
    audit.record("accounts.login.failed", outcome="failed")
    audit.record("accounts.login.failed", outcome="failed")
    monkeypatch.setattr(audit.timezone, "now", lambda: now - dt.timedelta(days=40))
    audit.record("accounts.login.succeeded", actor=owner)  # outside the window
    data = overview.signins_per_day(now.date())
    assert len(data) == 30 and data[-1]["day"] == now.date()
    by_day = {row["day"]: row for row in data}
    assert by_day[two_days_ago.date()] == {"day": two_days_ago.date(), "ok": 1, "failed": 2}
    assert sum(r["ok"] for r in data) == 1


def test_new_users_per_week_and_status_counts(owner, member):
    weeks = overview.new_users_per_week(timezone.now().date(), User.objects.all())
    assert len(weeks) == 12 and weeks[-1]["n"] == 2
    assert overview.users_by_status(User.objects.all())["active"] == 2


def test_overview_draws_svg_charts_linking_to_filtered_lists(client_for, owner):
    audit.record("accounts.login.succeeded", actor=owner)
    body = client_for(owner).get(reverse("overview")).content.decode()
    assert body.count('<svg class="chart"') >= 3
    today = timezone.now().date().isoformat()
    assert (
        f"/audit/?action=accounts.login.succeeded&amp;date_from={today}&amp;date_to={today}" in body
    )
    assert "Sign-ins, last 30 days" in body and "Users by status" in body
    assert not re.search(r"\sstyle=", body), "CSP forbids inline style attributes"
    assert "<script>" not in body


def test_sections_follow_permissions(client_for, viewer, member):
    body = client_for(viewer).get(reverse("overview")).content.decode()
    assert "Users by status" in body
    assert "Sign-ins, last 30 days" not in body  # needs audit:read
    assert "Email delivery" not in body  # needs emails:read
    body = client_for(member).get(reverse("overview")).content.decode()
    assert "<svg" not in body and "Welcome" in body


def test_overview_is_cached_and_cheap(client_for, owner, django_assert_max_num_queries):
    AuditEvent.objects.bulk_create(
        [AuditEvent(action="accounts.login.succeeded") for _ in range(300)]
    )
    client = client_for(owner)
    with django_assert_max_num_queries(14):
        client.get(reverse("overview"))
    # Within the minute, the user and audit figures come from the cache;
    # only the outbox is read (through its status index, never stale).
    with django_assert_max_num_queries(7) as captured:
        client.get(reverse("overview"))
    grouped = [q["sql"] for q in captured.captured_queries if "GROUP BY" in q["sql"]]
    assert not grouped, grouped


def test_the_email_figures_read_a_backlog_only_up_to_a_limit(
    client_for, owner, monkeypatch, django_assert_max_num_queries
):
    """However many emails wait or failed, each figure reads at most
    EMAIL_COUNT_LIMIT + 1 outbox rows, and says so beyond the limit."""
    from accounts.models import OutboundEmail

    monkeypatch.setattr(overview, "EMAIL_COUNT_LIMIT", 3)
    for i, status in enumerate(["pending"] * 5 + ["failed"] * 2):
        OutboundEmail.objects.create(
            to=f"r{i}@example.com",
            template="t",
            subject="s",
            body_text="b",
            message_id=f"<m{i}@example.com>",
            status=status,
        )
    client = client_for(owner)
    with django_assert_max_num_queries(20) as captured:
        body = client.get(reverse("overview")).content.decode()
    outbox = [q["sql"] for q in captured.captured_queries if "accounts_outboundemail" in q["sql"]]
    # Unordered: a sort would read the whole backlog before the limit.
    assert len(outbox) == 2, outbox
    assert all("LIMIT 4" in sql and "ORDER BY" not in sql for sql in outbox), outbox
    assert "<title>Pending: 3+</title>" in body and ">3+</text>" in body
    # Below the limit the figure is exact: the failed card and bar.
    assert '<div class="stat-label">Emails failed</div><div class="stat-value">2</div>' in body
    assert "<title>Failed: 2</title>" in body


def test_the_column_charts_are_cached_drawn(client_for, owner):
    """Within the minute the sign-in and new-user charts come from the
    cache as SVG: no view after the first writes their columns again, and
    the page is the same."""
    audit.record("accounts.login.succeeded", actor=owner)
    client = client_for(owner)
    first = client.get(reverse("overview"))
    assert [t.name for t in first.templates].count("overview/column_chart.html") == 2
    second = client.get(reverse("overview"))
    assert "overview/column_chart.html" not in [t.name for t in second.templates]
    charts = [
        re.findall(r'<svg class="chart".*?</svg>', r.content.decode(), re.S)
        for r in (first, second)
    ]
    assert len(charts[0]) == 5 and charts[1] == charts[0]


def test_a_created_user_shows_at_once_but_reads_keep_the_cache(
    client_for, owner, django_capture_on_commit_callbacks
):
    from tests.conftest import make_user

    client = client_for(owner)
    first = overview.overview_context(owner)["total_users"]
    with django_capture_on_commit_callbacks(execute=True):
        user = make_user("new@example.com")
        audit.record("accounts.user.created", actor=owner, target=user)
    assert overview.overview_context(owner)["total_users"] == first + 1
    # A read (listing users) does not drop the cached figures.
    with django_capture_on_commit_callbacks(execute=True):
        make_user("quiet@example.com")
        audit.record("accounts.user.listed", actor=owner)
    assert overview.overview_context(owner)["total_users"] == first + 1
    assert client.get(reverse("overview")).status_code == 200


def test_an_accepted_invitation_refreshes_the_invitation_figures(
    owner, django_capture_on_commit_callbacks
):
    from accounts.models import Invitation

    assert overview.overview_context(owner)["pending_invitations"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        Invitation.objects.create(
            email="x@example.com",
            token_hash="h" * 64,
            expires_at=timezone.now() + dt.timedelta(days=7),
            invited_by=owner,
        )
        audit.record("accounts.invitation.created", actor=owner)
    assert overview.overview_context(owner)["pending_invitations"] == 1


def test_nice_axis_maximum():
    assert [overview._nice_max(v) for v in (0, 3, 5, 9, 21, 399, 401)] == [
        4,
        4,
        8,
        20,
        40,
        400,
        800,
    ]


def test_a_client_without_figures_is_welcomed_with_what_they_can_do(client_for, member):
    body = client_for(member).get(reverse("overview")).content.decode()
    assert f'<h1 class="h3 mb-0">Welcome, {member.display_name}</h1>' in body
    assert "Your users at a glance" not in body
    for url in (reverse("account:password"), reverse("account:email")):
        assert f'href="{url}"' in body
    assert f'href="{reverse("account:home")}#sessions"' in body
    assert "Also open to you" not in body


def test_the_welcome_names_the_areas_a_person_may_open(client_for, builtin_roles):
    from tests.conftest import make_user

    reader = make_user("reader@example.com", direct_permissions=["roles:read"])
    body = client_for(reader).get(reverse("overview")).content.decode()
    assert "Also open to you" in body
    assert f'<a href="{reverse("roles:list")}">Roles</a>' in body
    assert f'<a href="{reverse("users:list")}">' not in body


def test_all_users_counts_everyone_the_status_card_lists_the_deleted_too(client_for, owner, member):
    from django.utils import timezone

    from tests.conftest import make_user

    make_user("gone@example.com", deleted_at=timezone.now())
    context = overview.overview_context(owner)
    by_status = {value: count for value, _, count in context["status_counts"]}
    assert context["total_users"] == sum(by_status.values()) == 3
    assert "including 1 deleted" in client_for(owner).get(reverse("overview")).content.decode()


def test_a_change_bumps_only_its_figures_generation_from_missing_and_from_set():
    from audit.figures import figure_generations, figures_changed

    def generations(users=0, invitations=0, members=0) -> dict:
        return {
            "users": users,
            "invitations": invitations,
            "members": members,
            "roles": 0,
            "organizations": 0,
        }

    assert figure_generations() == generations()
    figures_changed({"accounts.user.banned"})  # the key is missing: it starts at 1
    assert figure_generations() == generations(users=1)
    figures_changed({"accounts.user.unbanned", "accounts.user.listed"})
    assert figure_generations() == generations(users=2)
    figures_changed({"accounts.invitation.accepted"})  # three families: one more member
    assert figure_generations() == generations(users=3, invitations=1, members=1)
    figures_changed({"rbac.membership.added"})  # the members only
    assert figure_generations() == generations(users=3, invitations=1, members=2)
