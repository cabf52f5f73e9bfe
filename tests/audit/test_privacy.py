"""Privacy: no secret ever lands in an audit event, and nothing a user types
can forge a log line."""

from __future__ import annotations

import importlib
import json

import pytest
from django.urls import reverse

from audit import selectors
from audit import services as audit
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Sekrit-Passw0rd-Never-Logged-91"
WRONG_PASSWORD = "Wrong-But-Still-Secret-77"


def _all_events_serialized() -> str:
    rows = selectors.export_rows(AuditEvent.objects.all())
    return "\n".join(json.dumps(list(row), default=str) for row in rows)


def _optional(module: str, name: str):
    """Another area's service, when its branch is merged."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def test_no_secret_appears_in_any_event_after_the_flows(client, owner, admin_user):
    from accounts.services import tokens, users
    from rbac.policies import PolicyDenied

    secrets = {STRONG_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD}
    # Sign-in flows: success, wrong password, unknown account, sign-out.
    client.post(reverse("login"), {"email": owner.email, "password": WRONG_PASSWORD})
    client.post(reverse("login"), {"email": "ghost@example.com", "password": WRONG_PASSWORD})
    client.post(reverse("login"), {"email": owner.email, "password": STRONG_PASSWORD})
    client.post(reverse("logout"))
    # Service flows: creating a user with a password, a refused one.
    created = users.user_create(actor=admin_user, email="new@example.com", password=NEW_PASSWORD)
    with pytest.raises(PolicyDenied):
        users.user_create(actor=created, email="x@example.com", password=NEW_PASSWORD)
    secrets.update(u.password for u in type(owner).objects.all() if u.password)
    plain, hashed = tokens.new_token()
    secrets.update({plain, hashed})
    # Flows of other areas, when present: tokens, links and keys they create.
    reset = _optional("accounts.services.passwords", "password_reset_token_create")
    if reset:
        result = reset(actor=admin_user, user=created)
        secrets.update({result["token"], result["link"]})
    set_password = _optional("accounts.services.passwords", "password_set_by_admin")
    if set_password:
        set_password(actor=admin_user, user=created, password=NEW_PASSWORD + "x")
        secrets.add(NEW_PASSWORD + "x")
    invite = _optional("accounts.services.invitations", "invitation_create")
    if invite:
        _, link = invite(actor=admin_user, email="invitee@example.com")
        secrets.add(link.rstrip("/").rsplit("/", 1)[-1])
    # Secrets handed straight to the audit log are redacted by key.
    audit.record(
        "tests.secretive",
        changes={"password": [None, NEW_PASSWORD], "token": plain, "api_key": hashed},
    )

    dump = _all_events_serialized()
    assert AuditEvent.objects.filter(action="accounts.login.succeeded").exists()
    assert AuditEvent.objects.filter(action="accounts.login.failed").count() == 2
    leaked = sorted(s for s in secrets if s and s in dump)
    assert not leaked


@pytest.mark.parametrize(
    "label",
    [
        "mallory\r\n2024-01-01 INFO admin signed in",
        "nul\x00byte",
        "escape\x1b[2J",
        "line\u2028separator",
        "next\x85line",
        "tab\tand\x7fdel",
        "bidi\u202eoverride",
        "isolate\u2066x\u2069",
    ],
)
def test_labels_never_carry_control_characters(label):
    event = audit.record(
        "tests.injection",
        actor_label=label,
        target=audit.Target(type="user", id="1", label=label),
        reason=label,
    )
    for text in (event.actor_label, event.target_label, event.reason):
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in text)
        assert not any(c in text for c in "\u2028\u2029\u202e\u2066\u2069")


def test_a_typed_user_agent_cannot_forge_a_line(client, owner):
    client.post(
        reverse("login"),
        {"email": owner.email, "password": WRONG_PASSWORD},
        HTTP_USER_AGENT="curl\r\nFAKE audit line",
    )
    event = AuditEvent.objects.get(action="accounts.login.failed")
    assert "\n" not in event.user_agent and "\r" not in event.user_agent
    assert event.user_agent == "curl\\x0d\\x0aFAKE audit line"


def test_labels_are_cut_to_the_column_size():
    event = audit.record("tests.long", actor_label="a" * 5000, reason="b" * 5000)
    assert len(event.actor_label) == 300 and len(event.reason) == 2000


def test_a_hostile_label_is_escaped_on_the_pages(client_for, admin_user):
    event = audit.record(
        "tests.xss", target=audit.Target(type="user", id="1", label="<img src=x onerror=alert(1)>")
    )
    client = client_for(admin_user)
    for url in (reverse("audit:list"), reverse("audit:detail", args=[event.pk])):
        body = client.get(url).content.decode()
        assert "<img src=x" not in body and "&lt;img src=x" in body


def test_the_scrub_event_itself_holds_no_personal_data(owner):
    user = make_user("private.person@example.com", name="Private Person")
    audit.record("tests.about", actor=owner, target=user)
    type(user).objects.filter(pk=user.pk).update(deleted_at=owner.created_at)
    event = audit.audit_scrub_user(actor=owner, user_id=user.pk)
    dump = _all_events_serialized()
    assert "private.person@example.com" not in dump and "Private Person" not in dump
    assert event.reason == "Personal data erased on request."
