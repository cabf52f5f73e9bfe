"""Guards and effects of rbac.services, one test per rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Invitation, OutboundEmail, User
from audit.models import AuditEvent
from rbac import services
from rbac.models import Role, UserRole
from rbac.policies import PolicyDenied
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db


def denied(action):
    return AuditEvent.objects.filter(action=action, outcome="denied")


def role(slug):
    return Role.objects.get(slug=slug)


# --- role_create -----------------------------------------------------------------


def test_role_create_records_the_role_and_an_audit_event(admin_user):
    created = services.role_create(
        actor=admin_user,
        slug="support",
        name="Support",
        description="Helps people",
        permissions=["users:read", "sessions:revoke"],
    )
    assert created.permissions == ["sessions:revoke", "users:read"]
    event = AuditEvent.objects.get(action="rbac.role.created")
    assert event.target_id == str(created.pk)
    assert event.changes["permissions"] == [[], ["sessions:revoke", "users:read"]]


def test_role_create_from_a_template_takes_its_permissions(admin_user):
    created = services.role_create(actor=admin_user, slug="ops", name="Ops", template="operator")
    from rbac.permissions import TEMPLATES

    assert set(created.permissions) == set(TEMPLATES["operator"]["permissions"])


def test_unknown_permission_strings_are_rejected(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.role_create(
            actor=admin_user, slug="x", name="X", permissions=["users:read", "users:fly"]
        )
    assert exc.value.message_dict["permissions"] == ["Unknown permission: users:fly."]
    assert not Role.objects.filter(slug="x").exists()


def test_unknown_permission_strings_are_rejected_for_grants(admin_user, member):
    with pytest.raises(ValidationError) as exc:
        services.user_permissions_update(
            actor=admin_user, user=member, grant=["root", "users:nuke"]
        )
    assert exc.value.message_dict["permissions"] == ["Unknown permissions: root, users:nuke."]


def test_role_slug_collision_is_refused(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.role_create(actor=admin_user, slug="editor", name="Another editor")
    assert exc.value.message_dict["slug"] == ['A role with the slug "editor" already exists.']


def test_role_slug_must_be_a_slug_and_not_reserved(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.role_create(actor=admin_user, slug="Bad Slug!", name="Bad")
    assert "lowercase letters" in exc.value.message_dict["slug"][0]
    with pytest.raises(ValidationError) as exc:
        services.role_create(actor=admin_user, slug="new", name="New")
    assert exc.value.message_dict["slug"] == ['The slug "new" is reserved.']


def test_role_create_needs_roles_create(editor):
    with pytest.raises(PolicyDenied) as exc:
        services.role_create(actor=editor, slug="x", name="X")
    assert exc.value.message == "You need the permission roles:create to do this."
    event = denied("rbac.role.created").get()
    assert event.reason == "permission_denied: You need the permission roles:create to do this."


def test_escalation_role_with_permissions_you_do_not_hold_lists_them(member):
    UserRole.objects.create(
        user=member,
        role=services.role_create(
            actor=User.objects.get(is_owner=True),
            slug="role-maker",
            name="Role maker",
            permissions=["roles:create", "users:read"],
        ),
    )
    with pytest.raises(PolicyDenied) as exc:
        services.role_create(
            actor=member,
            slug="big",
            name="Big",
            permissions=["users:read", "users:delete", "users:ban"],
        )
    assert exc.value.message == (
        "You cannot grant permissions you do not hold: users:ban, users:delete."
    )
    event = denied("rbac.role.created").get()
    assert event.changes == {"missing": ["users:ban", "users:delete"]}
    assert not Role.objects.filter(slug="big").exists()


# --- role_update -----------------------------------------------------------------


def test_role_update_changes_only_what_differs_and_audits_it(admin_user):
    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    services.role_update(
        actor=admin_user, role=support, name="Support", permissions=["users:read", "mfa:read"]
    )
    event = AuditEvent.objects.get(action="rbac.role.updated")
    assert event.changes == {"permissions": [["users:read"], ["mfa:read", "users:read"]]}


def test_role_update_without_changes_writes_nothing(admin_user):
    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    services.role_update(actor=admin_user, role=support, name="Support", permissions=["users:read"])
    assert not AuditEvent.objects.filter(action="rbac.role.updated").exists()


def test_owner_role_cannot_be_edited(admin_user):
    with pytest.raises(PolicyDenied) as exc:
        services.role_update(actor=admin_user, role=role("owner"), permissions=[])
    assert exc.value.message == (
        "The owner role always holds every permission and cannot be changed."
    )
    assert denied("rbac.role.updated").count() == 1


def test_escalation_editing_a_role_you_cannot_fully_grant(owner, member):
    limited = services.role_create(
        actor=owner, slug="limited", name="Limited", permissions=["roles:update", "users:read"]
    )
    UserRole.objects.create(user=member, role=limited)
    target = services.role_create(
        actor=owner, slug="target", name="Target", permissions=["users:ban"]
    )
    with pytest.raises(PolicyDenied) as exc:
        services.role_update(actor=member, role=target, permissions=[])
    assert exc.value.message == "You cannot grant permissions you do not hold: users:ban."
    target.refresh_from_db()
    assert target.permissions == ["users:ban"]


def test_stale_edit_is_refused_instead_of_overwriting(admin_user):
    support = services.role_create(actor=admin_user, slug="support", name="Support")
    seen = support.updated_at
    services.role_update(actor=admin_user, role=support, permissions=["users:read"])
    with pytest.raises(ValidationError) as exc:
        services.role_update(
            actor=admin_user, role=support, permissions=["mfa:read"], expected_updated_at=seen
        )
    assert exc.value.messages == [
        "Someone else changed this role while you were editing it. "
        "Review the current permissions and save again."
    ]
    support.refresh_from_db()
    assert support.permissions == ["users:read"]


# --- role_delete -----------------------------------------------------------------


def test_builtin_roles_cannot_be_deleted(admin_user):
    builtin = ("owner", "admin", "editor", "viewer", "org-admin", "member")
    for slug in builtin:
        with pytest.raises(PolicyDenied) as exc:
            services.role_delete(actor=admin_user, role=role(slug), confirm=True)
        assert exc.value.message == f"{role(slug).name} is a built-in role and cannot be deleted."
    assert denied("rbac.role.deleted").count() == len(builtin)
    assert Role.objects.filter(is_builtin=True).count() == len(builtin)


def test_deleting_an_assigned_role_needs_confirmation(admin_user, member):
    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    services.user_role_assign(actor=admin_user, user=member, role=support)
    with pytest.raises(ValidationError) as exc:
        services.role_delete(actor=admin_user, role=support)
    assert exc.value.messages == [
        "This role is assigned to 1 user and offered by 0 invitations. "
        "Confirm to remove it from them and delete it."
    ]
    assert Role.objects.filter(slug="support").exists()


def test_deleting_a_role_removes_it_from_users_audited_per_user(admin_user, member, viewer):
    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    for user in (member, viewer):
        services.user_role_assign(actor=admin_user, user=user, role=support)
    assert "users:read" in member.permissions
    services.role_delete(actor=admin_user, role=support, confirm=True)
    assert not Role.objects.filter(slug="support").exists()
    removed = AuditEvent.objects.filter(action="rbac.user_role.removed")
    assert {e.target_id for e in removed} == {str(member.pk), str(viewer.pk)}
    assert all(e.reason == "Role support deleted." for e in removed)
    deleted = AuditEvent.objects.get(action="rbac.role.deleted", outcome="success")
    assert deleted.changes["members"] == [2, 0]
    assert "users:read" not in User.objects.get(pk=member.pk).permissions


def test_deleted_role_still_referenced_by_an_invitation(admin_user):
    from django.utils import timezone

    support = services.role_create(
        actor=admin_user, slug="support", name="Support", permissions=["users:read"]
    )
    invitation = Invitation.objects.create(
        email="new@example.com",
        token_hash="h" * 64,
        expires_at=timezone.now() + timezone.timedelta(days=7),
        invited_by=admin_user,
    )
    support.invitations.add(invitation)
    with pytest.raises(ValidationError) as exc:
        services.role_delete(actor=admin_user, role=support)
    assert "offered by 1 invitation." in exc.value.messages[0]
    services.role_delete(actor=admin_user, role=support, confirm=True)
    invitation.refresh_from_db()
    assert list(invitation.roles.all()) == []
    event = AuditEvent.objects.get(action="rbac.role.deleted", outcome="success")
    assert event.changes["invitations"] == [1, 0]


# --- user_role_assign / remove -----------------------------------------------------


def test_assigning_a_role_audits_and_refreshes_permissions(admin_user, member):
    assert "emails:read" not in member.permissions
    assert services.user_role_assign(actor=admin_user, user=member, role=role("editor"))
    assert "emails:read" in member.permissions
    event = AuditEvent.objects.get(action="rbac.user_role.assigned")
    assert event.changes == {"roles": [None, "editor"]}
    assert event.target_id == str(member.pk)


def test_assigning_a_role_twice_is_a_no_op(admin_user, member):
    services.user_role_assign(actor=admin_user, user=member, role=role("editor"))
    assert services.user_role_assign(actor=admin_user, user=member, role=role("editor")) is False
    assert AuditEvent.objects.filter(action="rbac.user_role.assigned").count() == 1


def test_self_action_granting_yourself_a_role(admin_user):
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(actor=admin_user, user=admin_user, role=role("editor"))
    assert exc.value.message == "You cannot change your own roles."
    assert exc.value.code == "self_action"
    assert denied("rbac.user_role.assigned").get().target_id == str(admin_user.pk)


def test_self_action_removing_your_own_role(admin_user):
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_remove(actor=admin_user, user=admin_user, role=role("admin"))
    assert exc.value.message == "You cannot change your own roles."


def test_self_action_granting_yourself_permissions(admin_user):
    with pytest.raises(PolicyDenied) as exc:
        services.user_permissions_update(actor=admin_user, user=admin_user, grant=["users:read"])
    assert exc.value.message == "You cannot change your own permissions."


def test_editor_assigning_admin_is_refused(editor, member):
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(actor=editor, user=member, role=role("admin"))
    assert exc.value.message == "You need the permission roles:assign to do this."
    assert denied("rbac.user_role.assigned").count() == 1
    assert not UserRole.objects.filter(user=member, role__slug="admin").exists()


def test_escalation_assigning_a_role_with_permissions_you_lack(owner, member, viewer):
    assigner = services.role_create(
        actor=owner,
        slug="assigner",
        name="Assigner",
        permissions=["roles:assign", "users:read", "invitations:read", "roles:read"]
        + ["sessions:read", "mfa:read"],
    )
    UserRole.objects.create(user=member, role=assigner)
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(actor=member, user=viewer, role=role("editor"))
    assert exc.value.message == (
        "You cannot grant permissions you do not hold: emails:read, members:read, "
        "organizations:read."
    )
    assert denied("rbac.user_role.assigned").get().changes == {
        "missing": ["emails:read", "members:read", "organizations:read"]
    }


def test_hierarchy_cannot_change_roles_of_a_more_powerful_user(owner, member, admin_user):
    assigner = services.role_create(
        actor=owner, slug="assigner", name="Assigner", permissions=["roles:assign", "users:read"]
    )
    UserRole.objects.create(user=member, role=assigner)
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_remove(actor=member, user=admin_user, role=role("admin"))
    assert exc.value.code == "hierarchy"
    assert exc.value.message.startswith(
        "You can only manage users whose permissions you also hold; this user also has: "
    )


def test_admin_editing_the_owner_is_refused(admin_user, owner):
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_remove(actor=admin_user, user=owner, role=role("owner"))
    assert exc.value.message == (
        "The owner's roles cannot be changed; ownership can only be transferred."
    )
    with pytest.raises(PolicyDenied) as exc:
        services.user_permissions_update(actor=admin_user, user=owner, revoke=["users:read"])
    assert exc.value.message == (
        "The owner's permissions cannot be changed; ownership can only be transferred."
    )
    assert denied("rbac.user_role.removed").count() == 1
    assert denied("rbac.user.permissions_updated").count() == 1


def test_owner_role_cannot_be_assigned(owner, member):
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(actor=owner, user=member, role=role("owner"))
    assert exc.value.message == (
        "The owner role cannot be assigned; the owner can transfer ownership instead."
    )


def test_removing_the_last_role_manager_is_refused_when_the_owner_cannot_act(owner):
    """With the strict hierarchy nobody reaches a peer, so the last-manager
    guard is the backstop: it still counts who could assign roles."""
    from django.utils import timezone

    from rbac import policies

    first = make_user("first@example.com", roles=["admin"])
    second = make_user("second@example.com", roles=["admin"])
    User.objects.filter(pk=owner.pk).update(disabled_at=timezone.now())
    with pytest.raises(PolicyDenied) as exc:
        services.user_role_remove(actor=first, user=second, role=role("admin"))
    assert exc.value.code == "peer"
    policies.check_last_manager(first, action="test", exclude_user_ids=[second.pk])
    with pytest.raises(PolicyDenied) as exc:
        policies.check_last_manager(first, action="test", exclude_user_ids=[first.pk, second.pk])
    assert exc.value.message == "This change would leave nobody able to assign roles."


def test_removing_the_last_role_manager_by_deleting_their_role(owner):
    from django.utils import timezone

    managers = services.role_create(
        actor=owner,
        slug="managers",
        name="Managers",
        permissions=["roles:assign", "roles:delete", "users:read"],
    )
    only = make_user("only@example.com")
    UserRole.objects.create(user=only, role=managers)
    User.objects.filter(pk=owner.pk).update(disabled_at=timezone.now())
    with pytest.raises(PolicyDenied) as exc:
        services.role_delete(actor=only, role=managers, confirm=True)
    assert exc.value.message == "This change would leave nobody able to assign roles."
    assert Role.objects.filter(slug="managers").exists()
    assert denied("rbac.role.deleted").count() == 1


def test_last_manager_guard_is_off_while_the_owner_is_active(owner):
    managers = services.role_create(
        actor=owner, slug="managers", name="Managers", permissions=["roles:assign"]
    )
    services.role_delete(actor=owner, role=managers)
    assert not Role.objects.filter(slug="managers").exists()


def test_direct_grants_and_revokes_are_audited(admin_user, member):
    services.user_permissions_update(
        actor=admin_user, user=member, grant=["users:read", "audit:read"]
    )
    services.user_permissions_update(actor=admin_user, user=member, revoke=["audit:read"])
    member.refresh_from_db()
    assert member.direct_permissions == ["users:read"]
    events = list(AuditEvent.objects.filter(action="rbac.user.permissions_updated").order_by("id"))
    assert events[0].changes == {"permissions": [[], ["audit:read", "users:read"]]}
    assert events[1].changes == {"permissions": [["audit:read", "users:read"], ["users:read"]]}


def test_grant_and_revoke_of_the_same_permission_is_refused(admin_user, member):
    with pytest.raises(ValidationError) as exc:
        services.user_permissions_update(
            actor=admin_user, user=member, grant=["users:read"], revoke=["users:read"]
        )
    assert exc.value.messages == ["A permission cannot be granted and revoked at once: users:read."]


def test_escalation_granting_permissions_you_do_not_hold(owner, member, viewer):
    granter = services.role_create(
        actor=owner, slug="granter", name="Granter", permissions=["permissions:grant"]
    )
    UserRole.objects.create(user=member, role=granter)
    # Grant the granter everything the viewer holds so hierarchy passes.
    services.user_permissions_update(
        actor=owner, user=member, grant=sorted(role("viewer").permissions)
    )
    with pytest.raises(PolicyDenied) as exc:
        services.user_permissions_update(actor=member, user=viewer, grant=["audit:export"])
    assert exc.value.message == "You cannot grant permissions you do not hold: audit:export."


def test_denial_outside_any_transaction_is_still_recorded(editor, member):
    with pytest.raises(PolicyDenied):
        services.user_role_assign(actor=editor, user=member, role=role("viewer"))
    event = denied("rbac.user_role.assigned").get()
    assert event.actor_id == editor.pk
    assert event.target_id == str(member.pk)


def test_anonymous_actor_fails_closed(member):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PolicyDenied) as exc:
        services.user_role_assign(actor=AnonymousUser(), user=member, role=role("viewer"))
    assert exc.value.code == "not_authenticated"


# --- ownership --------------------------------------------------------------------


def test_ownership_transfer_moves_the_owner_and_keeps_admin(owner, admin_user):
    services.ownership_transfer(actor=owner, target=admin_user, password=STRONG_PASSWORD)
    old, new = User.objects.get(pk=owner.pk), User.objects.get(pk=admin_user.pk)
    assert new.is_owner and not old.is_owner
    assert set(old.roles.values_list("slug", flat=True)) == {"admin"}
    assert "owner" in set(new.roles.values_list("slug", flat=True))
    assert AuditEvent.objects.filter(action="rbac.ownership.transferred").get().target_id == str(
        admin_user.pk
    )
    emails = {e.to: e for e in OutboundEmail.objects.all()}
    assert emails[owner.email].template == "ownership_transferred_from"
    assert emails[admin_user.email].template == "ownership_transferred_to"
    assert "You are now the owner" in emails[admin_user.email].subject
    assert "Olivia Owner" in emails[admin_user.email].body_text


def test_ownership_transfer_is_for_the_owner_only(admin_user, editor):
    with pytest.raises(PolicyDenied) as exc:
        services.ownership_transfer(actor=admin_user, target=editor, password=STRONG_PASSWORD)
    assert exc.value.message == "Only the owner can transfer ownership."
    assert denied("rbac.ownership.transferred").count() == 1


def test_ownership_transfer_needs_the_password(owner, admin_user):
    with pytest.raises(PolicyDenied) as exc:
        services.ownership_transfer(actor=owner, target=admin_user, password="wrong")
    assert exc.value.message == "Your password is incorrect."
    assert User.objects.get(pk=owner.pk).is_owner
    assert not OutboundEmail.objects.exists()
    assert denied("rbac.ownership.transferred").count() == 1


def test_ownership_transfer_needs_an_active_target(owner):
    from django.utils import timezone

    disabled = make_user("off@example.com", disabled_at=timezone.now())
    with pytest.raises(ValidationError) as exc:
        services.ownership_transfer(actor=owner, target=disabled, password=STRONG_PASSWORD)
    assert exc.value.message_dict["target"] == [
        "Ownership can only go to an active user (this one is disabled)."
    ]
    assert User.objects.get(pk=owner.pk).is_owner
