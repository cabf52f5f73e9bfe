"""Profile and status services: every rule and refusal, with audit rows,
ended sessions, killed tokens and queued emails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import OneTimeToken, OutboundEmail, User, UserSession
from accounts.services import users as svc
from audit.models import AuditEvent
from core.services import NotFound
from rbac.policies import PolicyDenied
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _open_session(user) -> str:
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store.create()
    UserSession.objects.create(session_key=store.session_key, user=user)
    return store.session_key


def _token(user):
    return OneTimeToken.objects.create(
        user=user,
        purpose="password_reset",
        token_hash=str(user.pk) + "x",
        expires_at=timezone.now() + timedelta(hours=1),
    )


def _last(action):
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


# --- update --------------------------------------------------------------------


def test_email_change_marks_unverified_and_notifies_the_old_address(admin_user, member):
    svc.user_update(actor=admin_user, user=member, email="Mona.New@Example.com")
    member.refresh_from_db()
    assert member.email == "mona.new@example.com"
    assert member.email_verified_at is None
    mail = OutboundEmail.objects.get(template="email_changed")
    assert mail.to == "member@example.com"
    assert "mona.new@example.com" in mail.body_text
    assert _last("accounts.user.updated").changes["email"] == [
        "member@example.com",
        "mona.new@example.com",
    ]


def test_email_change_to_an_existing_address_in_any_case_is_refused(admin_user, member, viewer):
    with pytest.raises(ValidationError) as exc:
        svc.user_update(actor=admin_user, user=member, email="VIEWER@example.COM")
    assert exc.value.messages == ["A user with this email already exists."]


def test_malformed_email_is_refused(admin_user, member):
    with pytest.raises(ValidationError, match="Enter a valid email address."):
        svc.user_update(actor=admin_user, user=member, email="nope@")
    with pytest.raises(ValidationError, match="Enter a valid email address."):
        svc.user_create(actor=admin_user, email="a b@example.com")


@pytest.mark.parametrize(
    "metadata,message",
    [
        ("{bad", "Metadata is not valid JSON"),
        ("[1, 2]", "Metadata must be a JSON object"),
        ('{"x": "' + "a" * 9000 + '"}', "Metadata is too large"),
    ],
)
def test_invalid_metadata_is_refused(admin_user, member, metadata, message):
    with pytest.raises(ValidationError, match=message):
        svc.user_update(actor=admin_user, user=member, metadata=metadata)


def test_update_with_nothing_changed_writes_no_audit_row(admin_user, member):
    svc.user_update(actor=admin_user, user=member, name=member.name)
    assert not AuditEvent.objects.filter(action="accounts.user.updated").exists()


def test_a_profile_editor_cannot_edit_the_owner(owner):
    from rbac.models import Role

    Role.objects.create(slug="profiles", name="Profiles", permissions=["users:update"])
    editor = make_user("profiles@example.com", roles=["profiles"])
    with pytest.raises(PolicyDenied, match="The owner cannot be edited."):
        svc.user_update(actor=editor, user=owner, name="X")
    assert _last("accounts.user.updated").outcome == "denied"


# --- ban ---------------------------------------------------------------------


def test_ban_without_end_is_permanent_and_ends_sessions_and_tokens(admin_user, member):
    key = _open_session(member)
    token = _token(member)
    svc.user_ban(actor=admin_user, user=member, reason="abuse")
    member.refresh_from_db()
    assert member.status == "banned" and member.is_banned_permanently
    assert member.banned_until > timezone.now() + timedelta(days=365 * 99)
    assert not SessionStore().exists(key)
    assert UserSession.objects.get(session_key=key).ended_at is not None
    token.refresh_from_db()
    assert token.used_at is not None
    event = _last("accounts.user.banned")
    assert event.outcome == "success" and event.reason == "abuse"


def test_each_ban_ends_its_own_users_sessions_and_keys_only(admin_user, owner):
    """A ban reads the user's open sessions and live keys with SQL compiled
    once (core.compiled.Reused): each later ban puts its own user's id in
    it, so the second ban ends the second user's, not the first's again."""
    from accounts.models import ApiKey
    from accounts.services.api_keys import api_key_create

    people = [make_user(f"ban{i}@example.com", roles=["viewer"]) for i in range(3)]
    sessions = {p.pk: _open_session(p) for p in people}
    keys = {
        p.pk: api_key_create(actor=owner, user=p, name="k", scopes=["users:read"])[0].pk
        for p in people
    }
    for banned, person in enumerate(people, start=1):
        svc.user_ban(actor=admin_user, user=person, reason="abuse")
        for i, p in enumerate(people):
            ended = i < banned
            assert (
                UserSession.objects.get(session_key=sessions[p.pk]).ended_at is not None
            ) is ended
            assert (ApiKey.objects.get(pk=keys[p.pk]).revoked_at is not None) is ended


def test_ban_with_an_end_in_the_past_is_refused(admin_user, member):
    with pytest.raises(ValidationError, match="The ban must end in the future."):
        svc.user_ban(actor=admin_user, user=member, until=timezone.now() - timedelta(minutes=1))


def test_unban_clears_the_ban(admin_user, member):
    svc.user_ban(actor=admin_user, user=member, until=timezone.now() + timedelta(hours=2))
    svc.user_unban(actor=admin_user, user=member)
    member.refresh_from_db()
    assert member.status == "active" and member.banned_until is None


def test_you_cannot_ban_yourself(admin_user):
    with pytest.raises(PolicyDenied) as exc:
        svc.user_ban(actor=admin_user, user=admin_user)
    assert exc.value.message == "You cannot ban yourself."
    event = _last("accounts.user.banned")
    assert event.outcome == "denied" and event.reason == "self_action: You cannot ban yourself."


def test_nobody_can_ban_the_owner(admin_user, owner):
    with pytest.raises(PolicyDenied, match="The owner cannot be banned."):
        svc.user_ban(actor=admin_user, user=owner)
    assert _last("accounts.user.banned").outcome == "denied"


def test_you_cannot_act_on_a_user_above_you(owner):
    from rbac.models import Role

    manager = make_user("manager@example.com")
    role = Role.objects.create(
        slug="support", name="Support", permissions=["users:read", "users:ban"]
    )
    manager.roles.add(role)
    admin = make_user("boss@example.com", roles=["admin"])
    with pytest.raises(PolicyDenied) as exc:
        svc.user_ban(actor=manager, user=admin)
    assert exc.value.code == "hierarchy"
    assert exc.value.message.startswith("You can only manage users whose permissions you also hold")
    assert _last("accounts.user.banned").outcome == "denied"
    assert User.objects.get(pk=admin.pk).banned_until is None


def test_ban_needs_the_permission(editor, member):
    with pytest.raises(PolicyDenied, match="You need the permission users:ban to do this."):
        svc.user_ban(actor=editor, user=member)


# --- disable / enable / force password change ----------------------------------


def test_disable_ends_sessions_and_enable_restores(admin_user, member):
    key = _open_session(member)
    svc.user_disable(actor=admin_user, user=member, reason="left")
    member.refresh_from_db()
    assert member.status == "disabled" and not member.is_active
    assert not SessionStore().exists(key)
    svc.user_enable(actor=admin_user, user=member)
    member.refresh_from_db()
    assert member.status == "active"
    assert [
        e.action for e in AuditEvent.objects.filter(target_id=str(member.pk)).order_by("id")
    ] == ["accounts.user.disabled", "accounts.user.enabled"]


def test_force_password_change(admin_user, member):
    svc.user_force_password_change(actor=admin_user, user=member)
    member.refresh_from_db()
    assert member.must_change_password
    # ("password" keys are redacted in the audit log, hence the name)
    assert _last("accounts.user.password_change_forced").changes == {"forced_change": [False, True]}


def test_you_cannot_disable_yourself(admin_user):
    with pytest.raises(PolicyDenied, match="You cannot disable yourself."):
        svc.user_disable(actor=admin_user, user=admin_user)


# --- delete / restore / hard delete -------------------------------------------


def test_soft_delete_then_restore(admin_user, member):
    key = _open_session(member)
    svc.user_delete(actor=admin_user, user=member, reason="asked")
    member.refresh_from_db()
    assert member.status == "deleted"
    assert not SessionStore().exists(key)
    svc.user_restore(actor=admin_user, user=member)
    member.refresh_from_db()
    assert member.status == "active"


def test_restore_after_30_days_is_refused(admin_user, member):
    User.objects.filter(pk=member.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    member.refresh_from_db()
    with pytest.raises(ValidationError, match="more than 30 days ago"):
        svc.user_restore(actor=admin_user, user=member)


def test_deleted_user_cannot_be_banned_until_restored(admin_user, member):
    svc.user_delete(actor=admin_user, user=member)
    member.refresh_from_db()
    with pytest.raises(ValidationError, match="This user is deleted"):
        svc.user_ban(actor=admin_user, user=member)


def test_hard_delete_needs_the_exact_email_and_is_audited_first(admin_user, member):
    pk = member.pk
    with pytest.raises(ValidationError, match="Type the user's email address exactly"):
        svc.user_hard_delete(actor=admin_user, user=member, confirm_email="someone@example.com")
    svc.user_hard_delete(actor=admin_user, user=member, confirm_email=" Member@Example.com ")
    assert not User.objects.filter(pk=pk).exists()
    event = _last("accounts.user.erased")
    assert event.target_id == str(pk) and event.target_label == "member@example.com"


def test_hard_delete_of_the_owner_is_refused(admin_user, owner):
    with pytest.raises(PolicyDenied, match="The owner cannot be deleted."):
        svc.user_hard_delete(actor=admin_user, user=owner, confirm_email=owner.email)


def test_acting_on_a_user_deleted_meanwhile_raises_not_found(admin_user, member):
    """Services speak the domain's NotFound, never HTTP; entry points answer 404."""
    stale = User.objects.get(pk=member.pk)
    member.delete()
    with pytest.raises(NotFound):
        svc.user_disable(actor=admin_user, user=stale)
