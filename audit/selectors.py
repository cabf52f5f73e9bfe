"""Reading the audit log: filters, keyset pages, trails and export rows.

Pages are keyset pages on the primary key (`id < cursor ORDER BY id DESC
LIMIT n+1`): each page costs one index range scan whatever its depth, and
no page runs a COUNT over the table.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User, normalize_email
from audit.models import AuditEvent
from rbac.models import Organization, Role

PAGE_SIZE = 50
EXPORT_FIELDS = (
    "id",
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "batch_id",
    "organization_id",
    "reason",
    "changes",
    "hash",
)
_DISTINCT_ACTIONS_SQL = """
WITH RECURSIVE actions(action) AS (
    (SELECT action FROM {table} ORDER BY action LIMIT 1)
    UNION ALL
    SELECT (SELECT e.action FROM {table} e WHERE e.action > a.action ORDER BY e.action LIMIT 1)
    FROM actions a WHERE a.action IS NOT NULL
)
SELECT action FROM actions WHERE action IS NOT NULL LIMIT %s
"""


def known_actions(limit: int = 500) -> list[str]:
    """Distinct action codes, always current (an event type recorded a
    second ago is offered). On PostgreSQL a loose index scan over the
    (action, id) index: one index probe per distinct code, so the cost
    follows the few dozen codes, not the million events."""
    if connection.vendor == "postgresql":
        sql = _DISTINCT_ACTIONS_SQL.format(
            table=connection.ops.quote_name(AuditEvent._meta.db_table)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [limit])
            return [row[0] for row in cursor.fetchall()]
    return sorted(AuditEvent.objects.order_by().values_list("action", flat=True).distinct()[:limit])


def action_choices() -> list:
    """Grouped for a <select>: each group ("accounts.user") offers "every
    event of the group" (`accounts.user.*`) followed by its actions."""
    groups: dict[str, list[str]] = {}
    for action in known_actions():
        group = action.rsplit(".", 1)[0] if "." in action else action
        groups.setdefault(group, []).append(action)
    choices: list = [("", "Any action")]
    for group, actions in groups.items():
        options = [(f"{group}.*", f"All {group} events")]
        options += [(a, a.rsplit(".", 1)[-1].replace("_", " ")) for a in actions]
        choices.append((group, options))
    return choices


def _user_ref(value: str) -> tuple[uuid.UUID | None, str]:
    """A filter value naming a user: an id, or an email (resolved to the
    user's id when the account exists, otherwise matched as a label)."""
    value = value.strip()
    try:
        return uuid.UUID(value), ""
    except ValueError:
        pass
    email = normalize_email(value)
    user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
    return (user_id, "") if user_id else (None, email)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def filter_events(data: dict, *, actor) -> QuerySet:
    """The events `actor` may see (`rbac.actor.Actor.visible_events`)
    matching cleaned filter data (`AuditFilterForm`)."""
    qs = actor.visible_events(AuditEvent.objects.all())
    if data.get("actor"):
        actor_id, label = _user_ref(data["actor"])
        qs = qs.filter(actor_id=actor_id) if actor_id else qs.filter(actor_label=label)
    if data.get("target"):
        target_id, label = _user_ref(data["target"])
        qs = qs.filter(target_id=str(target_id)) if target_id else qs.filter(target_label=label)
    if data.get("user"):
        qs = qs.filter(Q(actor_id=data["user"]) | Q(target_id=str(data["user"])))
    action = data.get("action")
    if action:
        if action.endswith(".*"):
            qs = qs.filter(action__startswith=action[:-1])
        else:
            qs = qs.filter(action=action)
    if data.get("outcome"):
        qs = qs.filter(outcome=data["outcome"])
    if data.get("date_from"):
        qs = qs.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        qs = qs.filter(created_at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    if data.get("batch"):
        qs = qs.filter(batch_id=data["batch"])
    if data.get("ip"):
        qs = qs.filter(ip=str(ipaddress.ip_address(data["ip"])))
    if data.get("organization"):
        qs = in_organization(qs, data["organization"])
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(
            Q(actor_label__icontains=q) | Q(target_label__icontains=q) | Q(reason__icontains=q)
        )
    return qs


def in_organization(qs: QuerySet, slug: str) -> QuerySet:
    """The events that happened in the organization `slug` (none for an
    unknown slug). By id: one range of the (organization_id, id) index."""
    org_id = Organization.objects.filter(slug=slug).values_list("pk", flat=True).first()
    return qs.none() if org_id is None else qs.filter(organization_id=org_id)


@dataclass
class Page:
    events: list
    newer: int | None  # pass as ?after= for the newer page
    older: int | None  # pass as ?before= for the older page
    is_first: bool


def _cursor(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def page_of(qs: QuerySet, *, before=None, after=None, size: int = PAGE_SIZE) -> Page:
    """One keyset page, newest first. `before`: events older than that id;
    `after`: events newer than that id (the page above)."""
    before, after = _cursor(before), _cursor(after)
    if after is not None:
        rows = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        # The page was reached from an older one, so older events exist.
        return Page(
            events=rows,
            newer=rows[0].id if rows and has_newer else None,
            older=rows[-1].id if rows else None,
            is_first=not has_newer,
        )
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs.order_by("-id")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return Page(
        events=rows,
        newer=rows[0].id if rows and before is not None else None,
        older=rows[-1].id if has_older else None,
        is_first=before is None,
    )


def user_trail(user_id, *, actor, limit: int = 20) -> list[AuditEvent]:
    """The newest events by or about a user that `actor` may see. Two index
    range scans (actor, target) merged here, rather than one OR the planner
    may not index."""
    events = actor.visible_events(AuditEvent.objects.all())
    by = list(events.filter(actor_id=user_id).order_by("-id")[:limit])
    about = list(events.filter(target_id=str(user_id)).order_by("-id")[:limit])
    merged = {e.id: e for e in by + about}
    return sorted(merged.values(), key=lambda e: e.id, reverse=True)[:limit]


def export_rows(qs: QuerySet, *, chunk_size: int = 2000):
    """Rows for an export as tuples of EXPORT_FIELDS, streamed from the
    database (a server-side cursor on PostgreSQL), oldest last."""
    return qs.order_by("-id").values_list(*EXPORT_FIELDS).iterator(chunk_size=chunk_size)


# Fields whose values are role slugs: shown by the role's name (a role
# deleted since keeps its slug).
ROLE_FIELDS = ("roles", "role")


def _role_names(changes: dict) -> dict[str, str]:
    slugs = set()
    for field in ROLE_FIELDS:
        value = changes.get(field)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                slugs.add(item)
            elif isinstance(item, list):
                slugs.update(i for i in item if isinstance(i, str))
    if not slugs:
        return {}
    return dict(Role.objects.filter(slug__in=slugs).values_list("slug", "name"))


def _named(value, names: dict[str, str]):
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_named(v, names) for v in value]
    return value


def changes_diff(changes: dict) -> list[dict]:
    """Changes as rows people read: {field, old, new, kind} where kind is
    "changed" for [old, new] pairs and "value" for plain details; roles by
    their names."""
    changes = changes or {}
    names = _role_names(changes)
    rows = []
    for field, value in changes.items():
        if field in ROLE_FIELDS:
            value = [_named(v, names) for v in value] if isinstance(value, list) else value
            if not isinstance(value, list):
                value = _named(value, names)
        if isinstance(value, list) and len(value) == 2:
            rows.append({"field": field, "old": value[0], "new": value[1], "kind": "changed"})
        else:
            rows.append({"field": field, "old": None, "new": value, "kind": "value"})
    return rows


def since(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


# --- export lines ----------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows):
    """An export as CSV lines: the header, then one line per row."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in rows:
        # A leading =, +, - or @ makes spreadsheets run the cell as a formula.
        yield writer.writerow(
            ["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in map(_cell, row)]
        )


def jsonl_lines(rows):
    """An export as JSON lines, one object per row."""
    for row in rows:
        record = {
            k: _cell(v) if k != "changes" else v for k, v in zip(EXPORT_FIELDS, row, strict=True)
        }
        yield json.dumps(record, sort_keys=True, default=str) + "\n"
