"""Audit events as sentences people read ("Ada banned Bob until 28 Nov:
spam"), for the activity lists: the overview, a user's page and the audit
log. The dotted code (`accounts.user.banned`) stays on the event's own page
and in the filters, where people look for exactly that.

`with_names(events)` fills in display names for a page of events with one
query; `sentence(event, link=...)` renders one event as safe HTML.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User, email_for_people
from audit.events import SENTENCES  # noqa: F401 (re-exported)
from audit.services import clean_label
from rbac.models import Organization


def with_names(events):
    """Set `actor_name` / `target_name` on each event: the user's name when
    the actor or target is a user who has one, else the recorded label;
    `organization_name` when it happened in an organization."""

    events = list(events)
    ids = {e.actor_id for e in events if e.actor_id}
    ids |= {e.target_id for e in events if e.target_type == "user" and e.target_id}
    ids |= {e.acting_for_id for e in events if e.acting_for_id}
    names = {}
    if ids:
        valid = [value for value in map(_user_id, ids) if value is not None]
        # Names are shown as typed, but never with a control character (a
        # terminal escape in a name must not reach the page raw).
        names = {
            str(pk): clean_label(name)
            for pk, name in User.objects.filter(pk__in=valid)
            .exclude(name="")
            .values_list("pk", "name")
        }
    org_ids = {e.organization_id for e in events if e.organization_id is not None}
    orgs = {}
    if org_ids:  # most events are account-wide: no query to build for none
        orgs = dict(Organization.objects.filter(pk__in=org_ids).values_list("pk", "name"))
    for event in events:
        if event.organization_id is not None:
            # An organization deleted since is named by its number.
            event.organization_name = clean_label(
                orgs.get(event.organization_id) or f"organization #{event.organization_id}"
            )
        # An address label shows its domain as typed and, where it differs,
        # encoded (a look-alike shows what it is).
        event.actor_name = (
            names.get(str(event.actor_id)) or email_for_people(event.actor_label) or "System"
        )
        if event.acting_for_id or event.acting_for_label:
            event.acting_for_name = (
                names.get(str(event.acting_for_id))
                or email_for_people(event.acting_for_label)
                or "someone"
            )
        if event.target_type == "user":
            event.target_name = names.get(event.target_id) or email_for_people(event.target_label)
        else:
            event.target_name = event.target_label or event.target_id
    return events


def _user_id(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:  # a target id that is not a user id
        return None


def short_date(value: dt.datetime) -> str:
    """ "28 Nov" this year, "28 Nov 2027" otherwise."""
    local = timezone.localtime(value)
    if local.year == timezone.localtime().year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def _until(event) -> str:
    change = (event.changes or {}).get("banned_until")
    if not isinstance(change, list | tuple) or len(change) != 2:
        return ""
    new = change[1]
    if not new:
        return ""
    when = parse_datetime(str(new))
    if when is None:
        return ""
    if when.year >= timezone.now().year + 50:  # how a permanent ban is stored
        return " permanently"
    return f" until {short_date(when)}"


def _person(name: str, param: str, value, link: bool):
    if link and value:
        return format_html('<a href="?{}">{}</a>', urlencode({param: value}), name)
    return format_html("{}", name)


def sentence(event, *, link: bool = False) -> SafeString:
    """The event as one sentence; with `link`, the actor and target are
    links that filter the audit log by them."""
    actor_name = getattr(event, "actor_name", None) or event.actor_label or "System"
    target_name = getattr(event, "target_name", None) or event.target_label or event.target_id
    actor = _person(actor_name, "actor", event.actor_id, link)
    if event.acting_for_id or event.acting_for_label:
        # Impersonation: both people, the one who acted first.
        seen_as = getattr(event, "acting_for_name", None) or event.acting_for_label or "someone"
        actor = format_html("{}, viewing as {},", actor, seen_as)
    target = _person(target_name or "someone", "target", event.target_id, link)
    done, tried = SENTENCES.get(event.action, (None, None))
    if done is None:
        # An action without a sentence yet: its last word, said plainly.
        resource, _, verb = event.action.rpartition(".")
        thing = resource.rpartition(".")[2].replace("_", " ")
        words = f"{verb.replace('_', ' ')} ({thing})"
        done = "{actor}: " + words + (" · {target}" if target_name else "")
        tried = done + " (refused)"
    text = done if event.outcome == "success" else tried
    html = text.format(actor=actor, target=target, until=_until(event) if "{until}" in text else "")
    if event.reason:
        html = format_html("{}: {}", mark_safe(html), event.reason)
    return mark_safe(html)
