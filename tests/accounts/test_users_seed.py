"""seed_demo: fast, idempotent, refused outside development unless forced;
and the create page's invitation branch calls the invitation service."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent(builtin_roles, settings):
    settings.DEBUG = True
    call_command("seed_demo", users=40, stdout=io.StringIO())
    call_command("seed_demo", users=40, stdout=io.StringIO())
    assert User.objects.filter(email__endswith="@demo.handover.local").count() == 40
    statuses = {u.status for u in User.objects.all()}
    assert {"active"} <= statuses


def test_seed_demo_audit_events_are_chained_and_idempotent(builtin_roles, settings):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from audit.services import verify_chain

    settings.DEBUG = True
    call_command("seed_demo", users=300, audit_events=500, stdout=io.StringIO())
    call_command("seed_demo", users=300, audit_events=500, stdout=io.StringIO())
    assert AuditEvent.objects.filter(request_id="seed-demo").count() == 500
    assert verify_chain().ok
    assert TOTPDevice.objects.filter(confirmed=True).exists()
    assert len({u.status for u in User.objects.all()}) >= 4
    # Sign-ins are recorded as the services record them: by their target,
    # and a failed one by nobody (only the address typed).
    seeded = AuditEvent.objects.filter(request_id="seed-demo")
    signed_in = seeded.filter(action="accounts.login.succeeded")
    assert signed_in.exists()
    assert all(str(e.actor_id) == e.target_id for e in signed_in)
    failed = seeded.filter(action="accounts.login.failed")
    assert failed.exists() and not failed.filter(actor_id__isnull=False).exists()
    assert all(e.actor_label == e.target_label for e in failed)


def test_seed_demo_refuses_without_debug_unless_forced(builtin_roles, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run with DJANGO_DEBUG=0"):
        call_command("seed_demo", users=5)
    call_command("seed_demo", users=5, force=True, stdout=io.StringIO())
    assert User.objects.count() == 5


def test_create_by_invitation_goes_through_the_invitation_service(client_for, admin_user):
    from accounts.models import Invitation
    from audit.models import AuditEvent

    response = client_for(admin_user).post(
        reverse("users:create"), {"email": "guest@example.com", "name": "G", "mode": "invite"}
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="guest@example.com")
    assert invitation.invited_by == admin_user
    assert AuditEvent.objects.filter(
        action="accounts.invitation.created",
        actor_id=admin_user.pk,
        target_label="guest@example.com",
    ).exists()
