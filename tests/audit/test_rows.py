"""The audit log's rows, written in Python (`audit.rows.event_rows_html`):
each value escaped, each cell as the table shows it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audit import context
from audit import services as audit
from rbac.models import Organization

pytestmark = pytest.mark.django_db

HOSTILE = '<img src=x onerror="alert(1)">'


def _rows(client) -> list[str]:
    page = client.get(reverse("audit:list")).content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


def test_every_value_in_a_row_is_escaped(client_for, admin_user, member):
    organization = Organization.objects.create(slug="evil", name=HOSTILE)
    token = context.set_current(context.RequestContext(ip="203.0.113.7"))
    try:
        event = audit.record(
            "accounts.user.banned",
            actor=admin_user,
            target=member,
            reason=HOSTILE,
            organization=organization,
        )
    finally:
        context.reset(token)
    [row] = [r for r in _rows(client_for(admin_user)) if "203.0.113.7" in r]
    assert "<img" not in row
    # The organization's badge and the reason, each escaped once.
    assert row.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 2
    assert '<a href="?ip=203.0.113.7">203.0.113.7</a>' in row
    assert f'href="{reverse("audit:detail", args=[event.pk])}"' in row
    assert f'title="Event {event.pk}"' in row and "<time datetime=" in row


def test_a_refused_action_is_flagged_and_an_unsealed_event_says_pending(
    client_for, admin_user, member
):
    audit.record("accounts.user.unbanned", actor=admin_user, target=member)
    assert audit.seal() >= 1
    audit.record("accounts.user.banned", actor=admin_user, target=member, outcome="denied")
    rows = _rows(client_for(admin_user))
    [refused] = [r for r in rows if "outcome-denied" in r]
    assert '<span class="badge outcome-denied d-md-none">Denied</span>' in refused
    assert '<span class="badge outcome-denied">Denied</span>' in refused
    assert ">pending</span>" in refused
    [sealed] = [r for r in rows if "unbanned" in r]
    assert "pending" not in sealed and "d-md-none" not in sealed
    assert '<span class="badge outcome-success">Success</span>' in sealed
