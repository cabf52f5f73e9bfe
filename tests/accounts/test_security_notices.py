"""Security notices: each event that should tell the user does so exactly
once (one queued OutboundEmail), and nothing else does."""

from __future__ import annotations

import pytest

from accounts.models import OutboundEmail
from accounts.services import mfa as mfa_services
from accounts.services import passwords
from accounts.services import users as user_services
from rbac import services as rbac_services
from rbac.models import Role
from tests.accounts.mfa_helpers import enrol
from tests.conftest import STRONG_PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_outbox(db):
    OutboundEmail.objects.all().delete()


def sent(to=None):
    qs = OutboundEmail.objects.order_by("created_at")
    if to:
        qs = qs.filter(to=to)
    return [(e.to, e.template, e.subject) for e in qs]


ELEVATED = (
    "member@example.com",
    "security_notice",
    "Security notice: You were given new management permissions",
)


# --- MFA ------------------------------------------------------------------------------


def test_removing_your_own_factor_sends_one_notice(member):
    device, _ = enrol(member)
    OutboundEmail.objects.all().delete()
    mfa_services.mfa_device_remove(actor=member, user=member, device_id=f"totp-{device.pk}")
    assert sent() == [
        (
            "member@example.com",
            "security_notice",
            "Security notice: A two-factor authentication method was removed from your account",
        )
    ]
    body = OutboundEmail.objects.get().body_text
    assert "You removed the two-factor method authenticator app" in body


def test_an_admin_removing_a_factor_sends_one_message_not_two(admin_user, member):
    device, _ = enrol(member)
    OutboundEmail.objects.all().delete()
    mfa_services.mfa_device_remove(actor=admin_user, user=member, device_id=f"totp-{device.pk}")
    assert [t for _to, t, _s in sent()] == ["mfa_factor_removed"]


# --- email and password ------------------------------------------------------------------


def test_an_email_change_tells_the_old_address_once(admin_user, member):
    user_services.user_update(actor=admin_user, user=member, email="mona@example.com")
    assert [t for _to, t, _s in sent("member@example.com")] == ["email_changed"]


def test_a_password_set_by_an_admin_sends_one_notice(admin_user, member):
    passwords.password_set_by_admin(actor=admin_user, user=member, password="Brand-New-Pass-123")
    assert sent() == [
        (
            "member@example.com",
            "security_notice",
            "Security notice: An administrator set a new password for your account",
        )
    ]


# --- management permissions -----------------------------------------------------------


def test_assigning_a_role_with_management_permissions_notifies_once(admin_user, member):
    support = Role.objects.create(
        slug="support", name="Support", permissions=["users:read", "users:update"]
    )
    rbac_services.user_role_assign(actor=admin_user, user=member, role=support)
    assert sent() == [ELEVATED]
    body = OutboundEmail.objects.get().body_text
    assert "Adam Admin gave you new management permissions: " in body
    assert "users:update" in body


def test_assigning_a_read_only_role_sends_nothing(admin_user, member):
    rbac_services.user_role_assign(
        actor=admin_user, user=member, role=Role.objects.get(slug="viewer")
    )
    assert sent() == []


def test_a_role_adding_only_what_the_user_already_held_sends_nothing(admin_user, member):
    editor = Role.objects.get(slug="editor")
    rbac_services.user_role_assign(actor=admin_user, user=member, role=editor)
    OutboundEmail.objects.all().delete()
    same = Role.objects.create(slug="same", name="Same", permissions=list(editor.permissions))
    rbac_services.user_role_assign(actor=admin_user, user=member, role=same)
    assert sent() == []


def test_granting_a_management_permission_directly_notifies(admin_user, member):
    rbac_services.user_permissions_update(
        actor=admin_user, user=member, grant=["users:read", "users:ban"]
    )
    assert sent() == [ELEVATED]
    assert "users:ban" in OutboundEmail.objects.get().body_text
    OutboundEmail.objects.all().delete()
    rbac_services.user_permissions_update(actor=admin_user, user=member, grant=["audit:read"])
    assert sent() == []


def test_a_role_gaining_a_management_permission_notifies_its_members(admin_user, member, viewer):
    role = Role.objects.create(slug="helpdesk", name="Helpdesk", permissions=["users:read"])
    for user in (member, viewer):
        rbac_services.user_role_assign(actor=admin_user, user=user, role=role)
    already = make_user("already@example.com")
    rbac_services.user_permissions_update(actor=admin_user, user=already, grant=["users:ban"])
    rbac_services.user_role_assign(actor=admin_user, user=already, role=role)
    OutboundEmail.objects.all().delete()
    rbac_services.role_update(
        actor=admin_user, role=role, permissions=["users:read", "users:ban", "audit:read"]
    )
    assert sorted(to for to, _t, _s in sent()) == ["member@example.com", "viewer@example.com"]


# --- ownership ---------------------------------------------------------------------------


def test_ownership_transfer_tells_each_side_once(owner, admin_user):
    rbac_services.ownership_transfer(actor=owner, target=admin_user, password=STRONG_PASSWORD)
    assert sorted(t for _to, t, _s in sent()) == [
        "ownership_transferred_from",
        "ownership_transferred_to",
    ]
