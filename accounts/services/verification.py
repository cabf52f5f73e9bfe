"""Email verification: a one-time link proving a user owns their address
(sent to users created with a password, and after an address change)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import TokenPurpose, User
from accounts.services.common import lock_user
from accounts.services.email_content import site_link
from accounts.services.emails import email_queue
from accounts.services.tokens import token_issue, token_redeem
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


@service
def email_verification_send(*, user: User, actor=None) -> str:
    """Email `user` a link proving they own their address (users created
    without auto_confirm). Returns the link."""
    token, row = token_issue(user=user, purpose=TokenPurpose.EMAIL_VERIFY, created_by=actor)
    link = site_link(f"/verify/{token}/")
    email_queue(
        to=user.email,
        template="email_verify",
        context={"user": user, "link": link, "expires_at": row.expires_at},
        user=user,
        secret=True,
    )
    return link


def address_proven(user: User) -> bool:
    """`user` opened a link sent to their address (verification, reset or
    sign-in link), so the address is theirs: mark it verified and save,
    unless it already was. Whether it changed."""
    if user.email_verified_at:
        return False
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return True


@service
def email_verify(*, token: str | None = None, digest: str | None = None) -> User:
    user = token_redeem(token=token, digest=digest, purpose=TokenPurpose.EMAIL_VERIFY)
    if not address_proven(user):
        return user
    audit.record(
        events.EMAIL_VERIFIED,
        actor=user,
        target=user,
        changes={"email_verified": [False, True]},
    )
    return user


@service
def user_verification_resend(*, actor, user: User, batch_id=None) -> User:
    """An administrator sends `user` a new link proving their address (a
    user who lost or never opened the first). Nothing to do once the
    address is verified."""
    user = lock_user(user)
    policies.check_can_resend_verification(actor, user, batch_id=batch_id)
    _refuse_if_deleted(user)
    if user.email_verified_at:
        return user
    email_verification_send(user=user, actor=actor)
    audit.record(
        events.EMAIL_VERIFICATION_SENT,
        actor=actor,
        target=user,
        changes={"emailed": [None, user.email]},
        batch_id=batch_id,
    )
    return user


@service
def user_mark_verified(*, actor, user: User, reason: str = "", batch_id=None) -> User:
    """An administrator vouches for `user`'s address without a link (they
    confirmed it another way). Nothing to do once it is verified."""
    user = lock_user(user)
    policies.check_can_mark_verified(actor, user, batch_id=batch_id)
    _refuse_if_deleted(user)
    if user.email_verified_at:
        return user
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at", "updated_at"])
    audit.record(
        events.EMAIL_MARKED_VERIFIED,
        actor=actor,
        target=user,
        reason=(reason or "").strip()[:500],
        changes={"email_verified": [False, True]},
        batch_id=batch_id,
    )
    return user


def _refuse_if_deleted(user: User) -> None:
    if user.deleted_at is not None:
        raise ValidationError(
            "This user is deleted; restore them before you verify their address.",
            code="deleted",
        )
