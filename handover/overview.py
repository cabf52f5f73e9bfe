"""Figures for the overview page, drawn as server-rendered SVG.

Every figure is one aggregate query on an index (the audit log's
(action, created_at) index, the users' created_at index, the outbox's
status index). The user and invitation figures are cached, and the cache
is dropped the moment a change to users or invitations commits: every such
change writes an audit event, and `audit.services.record_many` hands the
committed action codes to `audit.figures.figures_changed`, which bumps a
generation number that is part of the cache key. So a user created or an invitation accepted
shows at once, while a million users are still counted at most once per
change (and once a minute for time-driven changes such as a ban running
out). The outbox figures read the status index directly and are not cached;
each status is counted up to EMAIL_COUNT_LIMIT emails, so a backlog costs
every view the same however long it grows. Each figure is only computed for
people whose permissions let them see it; the cached numbers are the same
for everyone.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import TruncDate, TruncWeek
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import (
    EmailStatus,
    Invitation,
    OutboundEmail,
    UserStatus,
    invitation_status_q,
    status_q,
)
from audit.figures import figure_generations
from audit.models import AuditEvent
from audit.sentences import with_names
from rbac import policies
from rbac.actor import as_actor
from rbac.reach import EVERYONE

CACHE_SECONDS = 60
# The email figures count each status up to this many emails and say
# "1000+" beyond it: every view of the overview reads at most this many
# outbox rows a status, however long a backlog grows (no worker running, a
# flood of security notices). Counted in full, 14,000 pending emails took
# 3.4 ms from shared buffers and 20-30 ms from disk, on a page whose floor
# is 7 ms; 1,001 take 0.3 ms.
EMAIL_COUNT_LIMIT = 1000
SIGNIN_DAYS = 30
SIGNUP_WEEKS = 12
LOGIN_OK = "accounts.login.succeeded"
LOGIN_FAILED = "accounts.login.failed"

# Chart geometry, in SVG user units. Narrow on purpose: the drawing scales up
# on wide screens and stays legible at phone width (390 px).
WIDTH = 360
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 12, 150, 28
ROW = 30


def _url(name: str, **params) -> str | None:
    try:
        base = reverse(name)
    except NoReverseMatch:  # that area's page is not installed
        return None
    return _with_query(base, **params)


def _with_query(base: str | None, **params) -> str | None:
    """`base` (a URL `_url` found, or None) with `params`: for the many
    links of one chart, reversed once."""
    if base is None:
        return None
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(params)}" if params else base


def _users_generation(actor, generations: dict) -> str:
    """The generation of the figures counted over the users `actor` sees
    (`visible_users`): the users' own, and within organizations the
    members' too (a member added or removed changes who is counted)."""
    if actor.reach == EVERYONE:
        return str(generations["users"])
    return f"{generations['users']}.{generations['members']}"


def _cached(key: str, compute, generation: int | str = 0):
    return cache.get_or_set(f"overview:{key}:v3:g{generation}", compute, CACHE_SECONDS)


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 x 10^n)."""
    if value <= 4:
        return 4
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= 4 * step * factor:
                return 4 * step * factor
        step *= 10


# --- data ------------------------------------------------------------------------


def signins_per_day(today: dt.date) -> list[dict]:
    start = today - dt.timedelta(days=SIGNIN_DAYS - 1)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    rows = (
        AuditEvent.objects.filter(action__in=[LOGIN_OK, LOGIN_FAILED], created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("action", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(r["action"], r["day"]): r["n"] for r in rows}
    days = [start + dt.timedelta(days=i) for i in range(SIGNIN_DAYS)]
    return [
        {"day": d, "ok": counts.get((LOGIN_OK, d), 0), "failed": counts.get((LOGIN_FAILED, d), 0)}
        for d in days
    ]


def new_users_per_week(today: dt.date, users) -> list[dict]:
    monday = today - dt.timedelta(days=today.weekday())
    start = monday - dt.timedelta(weeks=SIGNUP_WEEKS - 1)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    rows = (
        users.filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at", tzinfo=dt.UTC))
        .values("week")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {}
    for r in rows:
        week = r["week"].date() if isinstance(r["week"], dt.datetime) else r["week"]
        counts[week] = r["n"]
    weeks = [start + dt.timedelta(weeks=i) for i in range(SIGNUP_WEEKS)]
    return [{"week": w, "n": counts.get(w, 0)} for w in weeks]


def users_by_status(users) -> dict[str, int]:
    return users.aggregate(**{s.value: Count("pk", filter=status_q(s.value)) for s in UserStatus})


def invitation_counts(now: dt.datetime) -> dict[str, int]:
    since = now - dt.timedelta(days=SIGNIN_DAYS)
    expired = invitation_status_q("expired", now) & Q(expires_at__gte=since)
    return Invitation.objects.aggregate(
        sent=Count("pk", filter=Q(created_at__gte=since)),
        accepted=Count("pk", filter=Q(accepted_at__gte=since)),
        expired=Count("pk", filter=expired),
        pending=Count("pk", filter=invitation_status_q("pending", now)),
    )


def email_counts() -> dict[str, int]:
    """Pending and failed emails, read through the status index (only those
    rows are touched, however many emails were sent), so never stale; each
    counted up to EMAIL_COUNT_LIMIT + 1 (`figure` says "1000+" then)."""
    # Unordered: the model's ordering would sort the whole backlog first.
    outbox = OutboundEmail.objects.order_by()
    return {
        status: outbox.filter(status=status)[: EMAIL_COUNT_LIMIT + 1].count()
        for status in (EmailStatus.PENDING.value, EmailStatus.FAILED.value)
    }


def figure(count: int) -> str:
    """A count from `email_counts` as shown: "1000+" past the limit."""
    return f"{EMAIL_COUNT_LIMIT}+" if count > EMAIL_COUNT_LIMIT else str(count)


# --- drawing ---------------------------------------------------------------------


def column_chart(points: list[dict], series: list[tuple[str, str]], *, label_every: int) -> dict:
    """Stacked columns. `points`: [{label, title, <key>: n, url_<key>: url}],
    `series`: [(key, css class)] bottom to top. Returns geometry for
    templates/overview/column_chart.html."""
    peak = max((sum(p[k] for k, _ in series) for p in points), default=0)
    top = _nice_max(peak)
    plot_w = WIDTH - PLOT_LEFT - 4
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.72, 2)
    height = PLOT_BOTTOM - PLOT_TOP
    columns = []
    for i, point in enumerate(points):
        x = PLOT_LEFT + i * slot + (slot - bar_w) / 2
        base = PLOT_BOTTOM
        segments = []
        for key, css in series:
            value = point[key]
            h = height * value / top if top else 0
            if value:
                segments.append(
                    {
                        "x": round(x, 1),
                        "y": round(base - h, 1),
                        "w": round(bar_w, 1),
                        "h": round(max(h, 1.5), 1),
                        "css": css,
                        "url": point.get(f"url_{key}"),
                        "title": f"{point['title']}: {value} {key_label(key, value)}",
                    }
                )
            base -= h
        columns.append(
            {
                "segments": segments,
                "label": point["label"] if i % label_every == 0 else "",
                "label_x": round(x + bar_w / 2, 1),
                # An invisible full-height target so empty days are still links.
                "hit": {
                    "x": round(PLOT_LEFT + i * slot, 1),
                    "w": round(slot, 1),
                    "url": point.get(f"url_{series[0][0]}"),
                    "title": point["title"]
                    + ": "
                    + ", ".join(f"{point[k]} {key_label(k, point[k])}" for k, _ in series),
                },
            }
        )
    grid = [{"y": round(PLOT_BOTTOM - height * f, 1), "value": int(top * f)} for f in (0, 0.5, 1)]
    return {
        "width": WIDTH,
        "height": PLOT_BOTTOM + 22,
        "plot_left": PLOT_LEFT,
        "plot_right": WIDTH - 4,
        "plot_top": PLOT_TOP,
        "plot_bottom": PLOT_BOTTOM,
        "plot_height": PLOT_BOTTOM - PLOT_TOP,
        "axis_x": PLOT_LEFT - 4,
        "label_y": PLOT_BOTTOM + 15,
        "columns": columns,
        "grid": grid,
    }


def key_label(key: str, count: int = 2) -> str:
    singular = {"ok": "sign-in", "failed": "failed sign-in", "n": "new user"}.get(key, key)
    return singular if count == 1 else f"{singular}s"


def bar_list(rows: list[dict]) -> dict:
    """Horizontal bars: rows [{label, value, url, css}, optionally text: the
    value as shown] -> geometry for templates/overview/bar_list.html."""
    label_w, value_w = 110, 46
    bar_space = WIDTH - label_w - value_w
    peak = max((r["value"] for r in rows), default=0) or 1
    bars = []
    for i, row in enumerate(rows):
        y = i * ROW
        w = bar_space * row["value"] / peak
        bars.append(
            {
                "text": str(row["value"]),
                **row,
                "y": y + 6,
                "hit_y": y + 2,
                "text_y": y + 20,
                "w": round(max(w, 2 if row["value"] else 0), 1),
                "value_x": round(label_w + max(w, 0) + 6, 1),
            }
        )
    return {
        "width": WIDTH,
        "height": len(rows) * ROW + 4,
        "bar_x": label_w,
        "track_w": bar_space,
        "bars": bars,
        "label_x": label_w - 8,
    }


def _short(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


# --- the page ----------------------------------------------------------------------


def _svg(chart: dict, chart_id: str, chart_title: str) -> str:
    """A column chart's SVG (templates/overview/column_chart.html), for a
    figure cached drawn: writing 30 days' columns took 2.2 ms of CPU on
    every view, the sign-in figure's cached data under 0.1."""
    context = {"chart": chart, "chart_id": chart_id, "chart_title": chart_title}
    return render_to_string("overview/column_chart.html", context)


def _signin_figure(today: dt.date) -> dict:
    """Cached drawn (the SVG, its links and the legend's totals), not only
    counted: the same for everyone who may read the audit log, and 30 days
    x 2 links to draw."""
    return _cached(f"signins-figure:{today.isoformat()}", lambda: _draw_signins(today))


def _draw_signins(today: dt.date) -> dict:
    data = signins_per_day(today)
    audit = _url("audit:list")
    points = []
    for row in data:
        day = row["day"].isoformat()
        points.append(
            {
                **row,
                "label": _short(row["day"]),
                "title": f"{row['day']:%a} {_short(row['day'])}",
                "url_ok": _with_query(audit, action=LOGIN_OK, date_from=day, date_to=day),
                "url_failed": _with_query(audit, action=LOGIN_FAILED, date_from=day, date_to=day),
            }
        )
    first = data[0]["day"].isoformat()
    chart = column_chart(points, [("ok", "bar-ok"), ("failed", "bar-failed")], label_every=7)
    return {
        "svg": _svg(
            chart,
            "chart-signins",
            "Sign-ins and failed sign-ins per day over the last 30 days",
        ),
        "total_ok": sum(r["ok"] for r in data),
        "total_failed": sum(r["failed"] for r in data),
        "url_ok": _with_query(audit, action=LOGIN_OK, date_from=first),
        "url_failed": _with_query(audit, action=LOGIN_FAILED, date_from=first),
    }


def _signup_figure(today: dt.date, generation: str, *, actor, link_audit: bool) -> dict:
    """New users per week among those the actor may see; each week links
    to its creation events on the audit log for those who may read it
    (`link_audit`). Cached drawn, per reach and whether it links."""
    links = "linked" if link_audit else "plain"
    return _cached(
        f"signups-figure:{actor.reach}:{today.isoformat()}:{links}",
        lambda: _draw_signups(today, actor=actor, link_audit=link_audit),
        generation,
    )


def _draw_signups(today: dt.date, *, actor, link_audit: bool) -> dict:
    data = new_users_per_week(today, actor.visible_users())
    audit = _url("audit:list") if link_audit else None
    points = []
    for row in data:
        start, end = row["week"], row["week"] + dt.timedelta(days=6)
        point = {**row, "label": _short(start), "title": f"Week of {_short(start)}"}
        if link_audit:
            point["url_n"] = _with_query(
                audit,
                action="accounts.user.created",
                date_from=start.isoformat(),
                date_to=end.isoformat(),
            )
        points.append(point)
    chart = column_chart(points, [("n", "bar-new")], label_every=3)
    return {
        "svg": _svg(chart, "chart-signups", "New users per week over the last 12 weeks"),
        "total": sum(r["n"] for r in data),
    }


def overview_context(actor) -> dict:
    """The figures `actor` may see, counted over the users and events in
    their reach (cached per reach, `actor.reach`)."""
    actor = as_actor(actor)

    def may(permission: str) -> bool:
        return policies.user_has(actor, permission)

    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    ctx: dict = {"cards": []}
    generations = figure_generations()
    if may("users:read"):
        generation = _users_generation(actor, generations)
        counts = _cached(
            f"status:{actor.reach}", lambda: users_by_status(actor.visible_users()), generation
        )
        ctx["status_counts"] = [(s.value, s.label, counts[s.value]) for s in UserStatus]
        # Everyone the status card lists, the deleted (still restorable) too.
        ctx["total_users"] = sum(counts.values())
        ctx["deleted_users"] = counts[UserStatus.DELETED]
        ctx["status_chart"] = bar_list(
            [
                {
                    "label": s.label,
                    "value": counts[s.value],
                    "url": _url("users:list", status=s.value),
                    "css": f"bar-status-{s.value}",
                }
                for s in UserStatus
            ]
        )
        ctx["signups"] = _signup_figure(
            today, generation, actor=actor, link_audit=may("audit:read")
        )
    if may("invitations:read"):
        inv = _cached("invitations", lambda: invitation_counts(now), generations["invitations"])
        ctx["pending_invitations"] = inv["pending"]
        ctx["invitation_chart"] = bar_list(
            [
                {
                    "label": label,
                    "value": inv[key],
                    "url": _url("invitations:list", status=status),
                    "css": f"bar-inv-{key}",
                }
                for key, label, status in (
                    ("sent", "Sent (30 days)", ""),
                    ("accepted", "Accepted", "accepted"),
                    ("expired", "Expired", "expired"),
                    ("pending", "Pending now", "pending"),
                )
            ]
        )
    if may("emails:read"):
        ctx["email_counts"] = emails = email_counts()
        ctx["failed_emails"] = figure(emails["failed"])
        ctx["email_chart"] = bar_list(
            [
                {
                    "label": "Pending",
                    "value": emails["pending"],
                    "text": figure(emails["pending"]),
                    "url": _url("emails:list", status="pending"),
                    "css": "bar-email-pending",
                },
                {
                    "label": "Failed",
                    "value": emails["failed"],
                    "text": figure(emails["failed"]),
                    "url": _url("emails:list", status="failed"),
                    "css": "bar-email-failed",
                },
            ]
        )
    if may("audit:read"):
        ctx["signins"] = _signin_figure(today)
        ctx["recent_events"] = with_names(actor.visible_events().order_by("-id")[:8])
    ctx["has_figures"] = any(
        key in ctx for key in ("status_counts", "pending_invitations", "email_counts", "signins")
    )
    return ctx
