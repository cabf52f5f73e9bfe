"""What signed-in users change about their own account: profile, email
address and password. (Administrators change other people's through `users` and
`passwords`.)"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User, normalize_email
from accounts.services.common import lock_user
from accounts.services.notices import notify_security
from accounts.services.sessions import sessions_end_all
from accounts.services.tokens import tokens_revoke_all
from accounts.services.users import email_change_notify
from accounts.services.validation import validate_email_address
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies


@service
def account_profile_update(*, actor, name: str, phone: str) -> User:
    user = lock_user(actor.pk)
    changes = {}
    for field, value in (("name", name.strip()), ("phone", phone.strip())):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if not changes:
        return user
    user.save(update_fields=[*changes, "updated_at"])
    audit.record(events.PROFILE_UPDATED, actor=actor, target=user, changes=changes)
    return user


@service
def account_email_change(*, actor, new_email: str) -> User:
    """Change your own email address (guard: a recent re-authentication).
    The new address is unverified until its link is used; outstanding
    links to the old address stop working; the old address is told.
    Raises ValidationError keyed by `new_email`."""

    user = lock_user(actor.pk)
    policies.check_can_change_own_email(actor)
    if normalize_email(new_email) == user.email:
        return user
    try:
        email = validate_email_address(new_email, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_email": exc.messages}) from None
    old_email, was_verified = user.email, user.email_verified_at is not None
    user.email = email
    user.email_verified_at = None
    user.save(update_fields=["email", "email_verified_at", "updated_at"])
    tokens_revoke_all(user)
    audit.record(
        events.EMAIL_CHANGED,
        actor=actor,
        target=user,
        changes={"email": [old_email, email], "email_verified": [was_verified, False]},
    )
    email_change_notify(user, old_email=old_email, actor=actor)
    return user


@service
def account_password_change(
    *, actor, current_password: str, new_password: str, keep_session_key: str | None
) -> User:
    """Change your own password. Every other session ends and outstanding
    reset links stop working; the session `keep_session_key` stays (the
    view re-hashes it with update_session_auth_hash). Raises
    ValidationError keyed by field."""

    user = lock_user(actor.pk)
    if not user.check_password(current_password):
        raise ValidationError({"current_password": "Your current password is not right."})
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    was_forced = user.must_change_password
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.must_change_password = False
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    tokens_revoke_all(user)
    ended = sessions_end_all(user, except_key=keep_session_key)
    changes = {"other_sessions_ended": ended}
    if was_forced:
        changes["forced_change"] = [True, False]
    audit.record(events.PASSWORD_CHANGED, actor=actor, target=user, changes=changes)
    notify_security(user, "password_changed", kept_session=keep_session_key is not None)
    return user
