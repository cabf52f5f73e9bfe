"""Accepting an invitation into an organization for an account that
already exists (issue 24).

It adds the membership and the roles the invitation names there, and
nothing else: the account's name, password, factors, global roles and
direct permissions never change through an invitation link (a re-invite
that reset an existing account's password was the seam of the previous
round). `invitation_accept` -- the name-and-password form that activates a
pending account -- refuses these invitations; this is their only way in,
and only for the invited account, signed in, confirming its password
(`policies.check_can_join`).
"""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Invitation
from accounts.services.common import lock_user
from accounts.services.invitations import InvitationInvalid, _check, _target
from accounts.services.tokens import lookup_digest
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies
from rbac.actor import as_actor
from rbac.models import Membership, UserRole


@service
def invitation_join(
    *, actor, token: str | None = None, digest: str | None = None, password: str | None = None
) -> Invitation:
    """The signed-in invitee joins the invitation's organization with its
    roles there. Lock the invitation and the account, then guard (the
    invitee, a fresh proof), then check the invitation is still usable
    (pending, for an existing account, still grantable by its inviter).
    Raises InvitationInvalid, PolicyDenied."""
    digest = lookup_digest(token, digest)
    if digest is None:
        raise InvitationInvalid("unknown")
    invitation = Invitation.objects.select_for_update().filter(token_hash=digest).first()
    if invitation is None:
        raise InvitationInvalid("unknown")
    user = lock_user(invitation.user_id)
    policies.check_can_join(actor, invitation, password=password)
    invitation = _check(invitation, existing=True)
    organization = invitation.organization
    roles = list(invitation.roles.all())
    Membership.objects.get_or_create(user=user, organization=organization)
    UserRole.objects.bulk_create(
        [
            UserRole(
                user=user, role=role, organization=organization, assigned_by=invitation.invited_by
            )
            for role in roles
        ],
        ignore_conflicts=True,
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit.record(
        events.INVITATION_ACCEPTED,
        actor=as_actor(actor),
        target=_target(invitation),
        changes={
            "roles": [[], sorted(r.slug for r in roles)],
            "organization": [None, organization.slug],
            "account": "existing",
        },
    )
    return invitation
