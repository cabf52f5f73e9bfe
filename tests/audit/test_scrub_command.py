"""`manage.py audit_scrub_user`: the entry point to the right to erasure in
the audit log (audit.services.audit_scrub_user)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit import services as audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def scrub(*args) -> str:
    out = StringIO()
    call_command("audit_scrub_user", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def deleted_member(owner, member):
    from accounts.services.users import user_delete

    audit.record(
        "accounts.user.updated",
        actor=owner,
        target=member,
        reason="Asked by member@example.com",
        changes={"name": ["Mona", "Mona Member"]},
    )
    user_delete(actor=owner, user=member, reason="Mona Member asked to leave")
    member.refresh_from_db()
    return member


def test_the_command_scrubs_a_deleted_users_personal_data_and_the_chain_still_verifies(
    owner, deleted_member
):
    user_id = str(deleted_member.pk)
    about = AuditEvent.objects.filter(target_id=user_id)
    assert "member@example.com" in repr(list(about.values_list("target_label", "reason")))

    output = scrub("--user-id", user_id, "--actor", "OWNER@example.com")

    event = AuditEvent.objects.get(action="audit.user.scrubbed", outcome="success")
    assert output.strip() == (
        f"Scrubbed personal data from {event.changes['scrubbed']} audit events of user "
        f"{user_id}; attested by event {event.pk}."
    )
    assert event.actor_id == owner.pk
    dump = repr(list(about.values_list("actor_label", "target_label", "reason", "changes")))
    for personal in ("member@example.com", "Mona"):
        assert personal not in dump
    verified = StringIO()
    call_command("audit_verify", stdout=verified)
    assert audit.verify_chain().ok
    # Run again: nothing left to scrub.
    assert scrub("--user-id", user_id, "--actor", "owner@example.com").strip() == (
        f"Nothing to scrub for user {user_id}."
    )


def test_the_command_refuses_a_user_who_is_not_deleted(owner, member):
    with pytest.raises(CommandError) as exc:
        scrub("--user-id", str(member.pk), "--actor", owner.email)
    assert str(exc.value) == (
        "Only a deleted user's personal data can be scrubbed; delete the user first."
    )
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed").exists()


def test_the_command_refuses_an_actor_without_users_delete(viewer, deleted_member):
    with pytest.raises(CommandError) as exc:
        scrub("--user-id", str(deleted_member.pk), "--actor", viewer.email)
    assert str(exc.value) == "You need the permission users:delete to do this."
    assert not AuditEvent.objects.filter(action="audit.user.scrubbed", outcome="success").exists()


def test_the_command_refuses_an_unknown_or_inactive_actor_and_a_malformed_id(
    owner, admin_user, deleted_member
):
    from accounts.services.users import user_disable

    with pytest.raises(CommandError, match=r"^No user with the email nobody@example.com\.$"):
        scrub("--user-id", str(deleted_member.pk), "--actor", "nobody@example.com")
    with pytest.raises(CommandError, match=r"^--user-id must be a user's UUID, not 'x'\.$"):
        scrub("--user-id", "x", "--actor", owner.email)
    user_disable(actor=owner, user=admin_user)
    with pytest.raises(CommandError) as exc:
        scrub("--user-id", str(deleted_member.pk), "--actor", admin_user.email)
    # The guard refuses an inactive actor, as on every other entry point,
    # and the attempt is on the audit log.
    assert str(exc.value) == "Only an active account can do this."
    denied = AuditEvent.objects.get(action="audit.user.scrubbed", outcome="denied")
    assert denied.actor_id == admin_user.pk
