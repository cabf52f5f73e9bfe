"""Invitations: invite a client by email, resend, revoke, accept.

An invitation creates the pending user at once (no usable password, no
roles yet) so the address is reserved and shows up in the user list as
`invited`; the roles and direct permissions it carries are granted only
when the client accepts, so a pending account holds nothing. The token is
>=128 bits, stored as a hash on the invitation, and dies on resend.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Invitation, User
from accounts.services.common import lock_user
from accounts.services.email_content import site_link
from accounts.services.emails import email_queue
from accounts.services.tokens import lookup_digest, new_token
from accounts.services.validation import resolve_grants, resolve_roles, validate_email_address
from audit import events
from audit import services as audit
from audit.services import Target
from core.services import service
from rbac import policies
from rbac.actor import as_actor, person_of
from rbac.models import Membership, UserRole


class InvitationInvalid(Exception):
    """An invitation link that cannot be used; `message` says what to do."""

    MESSAGES = {
        "unknown": "This invitation link is not valid. Check that you copied all of it, "
        "or ask the person who invited you to send a new one.",
        "accepted": "This invitation was already accepted. Sign in with your email and password.",
        "revoked": "This invitation was withdrawn. Ask the person who invited you "
        "if you should still have access.",
        "expired": "This invitation has expired. Ask the person who invited you to resend it.",
        "inactive": "This account cannot be activated. Contact your administrator.",
        "outdated": "This invitation no longer matches the access this account would get. "
        "Ask your administrator for a new invitation.",
        "existing_account": "This invitation is for an account that already exists: open the "
        "link in a browser and sign in as that account to accept it.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason
        self.message = self.MESSAGES[reason]


class InvitationForExistingAccount(InvitationInvalid):
    """An invitation that joins an existing account to an organization,
    met where only a pending account is activated (`invitation_accept`: the
    name-and-password form, the public API). It is accepted on the page,
    signed in as that account with its password confirmed
    (`invitation_join`); the API never accepts it, since joining hands the
    organization's administrators account-wide actions over the account,
    the person's own act, proven by their own sign-in (second factor
    included) rather than by a link and a password."""

    def __init__(self, invitation: Invitation):
        super().__init__("existing_account")
        self.message = (
            f"This invitation adds an account that already exists to "
            f"{invitation.organization.name}. Open the link from the email in a browser, sign in "
            "as that account and confirm your password to join; an invitation for an existing "
            "account cannot be accepted through the API."
        )


def _target(invitation: Invitation) -> Target:
    return Target(
        type="invitation",
        id=str(invitation.pk),
        label=invitation.email,
        organization_id=invitation.organization_id,
    )


def _pending_user_for(email: str, organization=None) -> User | None:
    """The account an invitation to `email` may attach to: none yet, a
    pending (never activated) account without a live invitation, or --
    into an organization -- an existing account that is not a member yet
    (accepting then only adds the membership: `invitation_join`). Any other
    account is refused with a message saying what to do instead."""
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        return None
    existing = user.has_usable_password()
    if user.deleted_at or (existing and organization is None):
        raise ValidationError(
            "%(email)s already has an account. Manage it from the Users page instead.",
            code="user_exists",
            params={"email": email},
        )
    live = Invitation.objects.filter(user=user).with_status("pending")
    if existing:
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise ValidationError(
                "%(email)s is already a member of %(organization)s.",
                code="already_member",
                params={"email": email, "organization": organization.name},
            )
        live = live.filter(organization=organization)
    if live.exists():
        raise ValidationError(
            "%(email)s already has a pending invitation. Resend it instead.",
            code="invitation_pending",
            params={"email": email},
        )
    return user


def joins_existing_account(invitation: Invitation) -> bool:
    """Whether accepting `invitation` joins an account that already exists
    to its organization (`invitation_join`) rather than activating a
    pending one (`invitation_accept`)."""
    return invitation.user is not None and invitation.user.has_usable_password()


def _send(invitation: Invitation, token: str, *, inviter) -> str:
    link = site_link(f"/invite/{token}/")
    email_queue(
        to=invitation.email,
        template="invitation",
        context={
            "invitation": invitation,
            "name": invitation.name,
            "link": link,
            "inviter": inviter.display_name if inviter else "Handover",
            "roles": [r.name for r in invitation.roles.all()],
            "expires_at": invitation.expires_at,
            # An existing account is asked to join, not to choose a password.
            "joining": joins_existing_account(invitation),
            "organization": invitation.organization.name if invitation.organization else "",
        },
        user=invitation.user,
        secret=True,
    )
    return link


@service
def invitation_create(
    *,
    actor,
    email: str,
    name: str = "",
    roles=(),
    template: str | None = None,
    permissions=(),
    expires_in=None,
    batch_id=None,
    organization=None,
) -> tuple[Invitation, str]:
    """Invite `email` with `roles` and/or a permission `template` /
    `permissions`. Returns (invitation, link); the link is also emailed
    after commit. `expires_in` (timedelta) defaults to INVITATION_TTL.

    An address with an active or deleted account is refused (409); a
    pending account (never activated, no live invitation) may be invited
    again, which counts as acting on it: `check_can_invite` wants the
    hierarchy over it and escalation over everything it will hold once
    the invitation is accepted -- its own roles and grants included."""
    action = events.INVITATION_CREATED
    policies.check_permission(actor, "invitations:create", action=action)
    organization = _organization(actor, organization)
    email = validate_email_address(email, unique=False)
    role_objs = resolve_roles(roles)
    grants = resolve_grants(template=template, permissions=permissions)
    if organization is not None and grants:
        raise ValidationError(
            "Direct permissions are global; an invitation into an organization gives roles "
            "there only.",
            code="invalid",
        )
    user = _pending_user_for(email, organization)
    policies.check_can_invite(
        actor,
        email=email,
        roles=role_objs,
        grants=grants,
        account=user,
        organization=organization,
    )
    now = timezone.now()
    name = (name or "").strip()[:150]
    if user is None:
        user = User(email=email, name=name)
        user.set_unusable_password()
        try:
            # A savepoint: the same new address invited at the same moment
            # from another session wins the unique email, and this one is
            # told what happened instead of failing with an IntegrityError.
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise ValidationError(
                "%(email)s already has a pending invitation. Resend it instead.",
                code="invitation_pending",
                params={"email": email},
            ) from None
        audit.record(
            events.USER_CREATED,
            actor=actor,
            target=user,
            changes={"email": [None, email], "via": [None, "invitation"]},
            batch_id=batch_id,
        )
    token, digest = new_token()
    invitation = Invitation.objects.create(
        email=email,
        # An existing account keeps its own name: the invitation names it.
        name=user.name if user.has_usable_password() else (name or user.name),
        user=user,
        permissions=grants,
        invited_by=person_of(actor),
        organization=organization,
        token_hash=digest,
        created_at=now,
        expires_at=now + (expires_in or settings.INVITATION_TTL),
        last_sent_at=now,
    )
    invitation.roles.set(role_objs)
    audit.record(
        action,
        actor=actor,
        target=_target(invitation),
        changes={
            "email": [None, email],
            "roles": [[], [r.slug for r in role_objs]],
            "permissions": [[], grants],
            "organization": [None, organization.slug if organization else None],
            "expires_at": [None, invitation.expires_at.isoformat()],
        },
        batch_id=batch_id,
    )
    link = _send(invitation, token, inviter=actor)
    return invitation, link


def _organization(actor, organization):
    """The organization an invitation names (an object or a slug), among
    those the actor sees; None for none."""
    if organization in (None, ""):
        return None
    slug = getattr(organization, "slug", organization)
    found = as_actor(actor).visible_organizations().filter(slug=slug).first()
    if found is None:
        raise ValidationError(
            "Unknown organization %(slug)s.", code="unknown_organization", params={"slug": slug}
        )
    return found


def _lock(invitation: Invitation) -> Invitation:
    return Invitation.objects.select_for_update().get(pk=invitation.pk)


@service
def invitation_resend(*, actor, invitation: Invitation) -> tuple[Invitation, str]:
    """A new token (the old link dies) and a new expiry, emailed again.
    Works on pending and expired invitations."""
    action = events.INVITATION_RESENT
    # Lock, then guard: resending acts on the pending account, judged as it
    # is under its lock (roles given to it since count).
    invitation = _lock(invitation)
    account = lock_user(invitation.user_id) if invitation.user_id else None
    policies.check_permission(
        actor, "invitations:create", action=action, target=_target(invitation)
    )
    policies.check_can_invite(
        actor,
        email=invitation.email,
        roles=list(invitation.roles.all()),
        grants=invitation.permissions,
        account=account,
        action=action,
        organization=invitation.organization,
    )
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(
            "This invitation was %(status)s; it cannot be resent. "
            "Invite the address again instead.",
            code="not_pending",
            params={"status": invitation.status},
        )
    token, digest = new_token()
    now = timezone.now()
    old_expiry = invitation.expires_at
    invitation.token_hash = digest
    invitation.expires_at = now + settings.INVITATION_TTL
    invitation.last_sent_at = now
    invitation.save(update_fields=["token_hash", "expires_at", "last_sent_at"])
    audit.record(
        action,
        actor=actor,
        target=_target(invitation),
        changes={"expires_at": [old_expiry.isoformat(), invitation.expires_at.isoformat()]},
    )
    link = _send(invitation, token, inviter=actor)
    return invitation, link


@service
def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation: its link stops working. The pending
    account stays (status invited) so the address can be invited again."""
    action = events.INVITATION_REVOKED
    policies.check_can_revoke_invitation(actor, invitation)
    invitation = _lock(invitation)
    if invitation.accepted_at:
        raise ValidationError(
            "This invitation was already accepted. Disable the user instead.", code="accepted"
        )
    if invitation.revoked_at:
        return invitation
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(
        action, actor=actor, target=_target(invitation), changes={"status": ["pending", "revoked"]}
    )
    return invitation


def invitation_peek(*, token: str | None = None, digest: str | None = None) -> Invitation:
    """The usable invitation for `token` (to show the accept form)."""
    digest = lookup_digest(token, digest)
    if digest is None:
        raise InvitationInvalid("unknown")
    invitation = (
        Invitation.objects.select_related("user", "invited_by").filter(token_hash=digest).first()
    )
    if invitation is None:
        raise InvitationInvalid("unknown")
    return _check(invitation, existing=joins_existing_account(invitation))


def _check(invitation: Invitation | None, *, existing: bool = False) -> Invitation:
    """A usable invitation, or InvitationInvalid. `existing`: one that joins
    an existing account to an organization -- never one that activates an
    account, so a link can never set an existing account's password or
    name (`invitation_accept` asks with existing=False)."""
    if invitation is None:
        raise InvitationInvalid("unknown")
    status = invitation.status
    if status != "pending":
        raise InvitationInvalid(status)
    user = invitation.user
    if user is None or user.deleted_at or user.disabled_at:
        raise InvitationInvalid("inactive")
    if user.has_usable_password() != existing:
        if not existing and invitation.organization_id and not invitation.permissions:
            raise InvitationForExistingAccount(invitation)
        raise InvitationInvalid("inactive")
    if existing and (invitation.organization_id is None or invitation.permissions):
        raise InvitationInvalid("inactive")
    if user.banned_until and user.banned_until > timezone.now():
        raise InvitationInvalid("inactive")
    if not policies.invitation_still_grantable(invitation, user):
        # Roles given to the pending account after it was invited, or an
        # inviter who lost access since: the link must not hand over more
        # than its inviter can grant today.
        raise InvitationInvalid("outdated")
    return invitation


@service
def invitation_accept(
    *, token: str | None = None, name: str, password: str, digest: str | None = None
) -> User:
    """The client sets name and password: the account becomes active (email
    verified: they received the link) with exactly the invited roles and
    permissions. Raises InvitationInvalid or ValidationError (password)."""
    digest = lookup_digest(token, digest)
    if digest is None:
        raise InvitationInvalid("unknown")
    invitation = Invitation.objects.select_for_update().filter(token_hash=digest).first()
    invitation = _check(invitation)
    user = User.objects.select_for_update().get(pk=invitation.user_id)
    user.name = (name or invitation.name or "").strip()[:150]
    validate_password(password, user)
    now = timezone.now()
    user.set_password(password)
    user.password_changed_at = now
    user.email_verified_at = user.email_verified_at or now
    role_objs = list(invitation.roles.all())
    user.direct_permissions = sorted(
        set(user.direct_permissions or []) | set(invitation.permissions)
    )
    user.save(
        update_fields=[
            "name",
            "password",
            "password_changed_at",
            "email_verified_at",
            "direct_permissions",
        ]
    )
    organization = invitation.organization
    if organization is not None:
        Membership.objects.get_or_create(user=user, organization=organization)
    UserRole.objects.bulk_create(
        [
            UserRole(
                user=user, role=r, organization=organization, assigned_by=invitation.invited_by
            )
            for r in role_objs
        ],
        ignore_conflicts=True,
    )
    invitation.accepted_at = now
    invitation.save(update_fields=["accepted_at"])
    Invitation.objects.filter(user=user).with_status("open").exclude(pk=invitation.pk).update(
        revoked_at=now
    )
    audit.record(
        events.INVITATION_ACCEPTED,
        actor=user,
        target=_target(invitation),
        changes={
            "roles": [[], [r.slug for r in role_objs]],
            "permissions": [[], list(invitation.permissions)],
            "organization": [None, organization.slug if organization else None],
        },
    )
    return user
