"""Activity lists speak in sentences ("Ada banned Bob until 28 Nov: spam");
dates read one way everywhere, relative where that helps."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.templatetags.dates import relative, when
from audit import services as audit
from audit.sentences import sentence, with_names
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_ban_reads_as_a_sentence_with_names_date_and_reason(builtin_roles):
    ada = make_user("ada@example.com", name="Ada")
    bob = make_user("bob@example.com", name="Bob")
    until = timezone.now() + dt.timedelta(days=3)
    event = audit.record(
        "accounts.user.banned",
        actor=ada,
        target=bob,
        reason="spam",
        changes={"banned_until": [None, until]},
    )
    [event] = with_names([event])
    expected_day = f"{timezone.localtime(until).day} {timezone.localtime(until):%b}"
    assert str(sentence(event)) == f"Ada banned Bob until {expected_day}: spam"


def test_names_and_reasons_are_escaped_and_unknown_actions_still_read(builtin_roles, settings):
    # Production records an event type that lacks a sentence (and logs it).
    settings.AUDIT_STRICT_EVENT_TYPES = False
    eve = make_user("eve@example.com", name="<b>Eve</b>")
    event = audit.record("tests.widget.polished", actor=eve, reason="<i>why</i>")
    [event] = with_names([event])
    html = str(sentence(event))
    assert "<b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "polished (widget)" in html and "&lt;i&gt;why&lt;/i&gt;" in html


def test_a_refused_action_says_it_was_tried(builtin_roles):
    ada = make_user("ada@example.com", name="Ada")
    bob = make_user("bob@example.com")
    event = audit.record("accounts.user.deleted", actor=ada, target=bob, outcome="denied")
    [event] = with_names([event])
    assert str(sentence(event)) == "Ada tried to delete bob@example.com"


def test_relative_times_count_properly():
    now = timezone.now()
    assert relative(now - dt.timedelta(seconds=20), now) == "just now"
    assert relative(now - dt.timedelta(seconds=61), now) == "1 minute ago"
    assert relative(now - dt.timedelta(minutes=3), now) == "3 minutes ago"
    assert relative(now - dt.timedelta(hours=1, minutes=5), now) == "1 hour ago"
    assert relative(now - dt.timedelta(days=2), now) == "2 days ago"
    old = timezone.now() - dt.timedelta(days=40)
    assert timezone.localtime(old).strftime("%-d %b %Y, %H:%M") in when(old)
