"""Every audit event type has a sentence people read (audit/events.py).

Two nets: `audit.record` refuses an unknown type under the test settings,
so any test that emits one fails; and a scan of the source finds the event
types named in calls (`record(events.USER_BANNED)`, `action="..."`), so a
path no test reaches is caught too -- a constant that does not exist
fails the scan by name.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from audit import events
from audit import services as audit
from audit.events import EVENT_TYPES, SENTENCES

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "core", "handover", "rbac")
EVENT_TYPE = re.compile(r"^(accounts|audit|rbac)\.[a-z_]+(\.[a-z_]+)?$")


def _named_event_types() -> dict[str, str]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", "")
                candidates = [kw.value for kw in node.keywords if kw.arg == "action"]
                if name in ("record", "EventSpec") and node.args:
                    candidates.append(node.args[0])
                for value in candidates:
                    text = value.value if isinstance(value, ast.Constant) else None
                    if (
                        isinstance(value, ast.Attribute)
                        and isinstance(value.value, ast.Name)
                        and value.value.id == "events"
                    ):
                        # A named constant (`events.USER_BANNED`): its value.
                        text = getattr(events, value.attr)
                    if isinstance(text, str) and EVENT_TYPE.match(text):
                        found[text] = str(path.relative_to(ROOT))
    return found


def test_every_event_type_named_in_the_code_has_a_sentence():
    named = _named_event_types()
    assert len(named) > 40  # the scan sees the code's calls
    assert {t: where for t, where in named.items() if t not in EVENT_TYPES} == {}


def test_each_sentence_uses_only_the_known_placeholders():
    allowed = {"actor", "target", "until"}
    for event_type, pair in SENTENCES.items():
        for text in pair:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            assert fields <= allowed, (event_type, text)


@pytest.mark.django_db
def test_recording_an_event_type_without_a_sentence_fails_under_test_settings():
    with pytest.raises(ValueError, match="has no sentence"):
        audit.record("accounts.user.teleported")
