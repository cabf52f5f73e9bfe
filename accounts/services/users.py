"""Creating users and changing their profile and status."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User, normalize_email
from accounts.services.access_endings import end_access, notify_status
from accounts.services.common import diff, lock_organizations_at_stake, lock_user
from accounts.services.emails import email_queue
from accounts.services.sessions import sessions_end_all
from accounts.services.tokens import tokens_revoke_all
from accounts.services.validation import (
    resolve_grants,
    resolve_roles,
    validate_email_address,
    validate_metadata,
    validate_phone,
)
from accounts.services.verification import email_verification_send
from audit import events
from audit import services as audit
from core.services import service
from rbac import policies
from rbac.actor import person_of
from rbac.models import Role, UserRole


@service
def user_create(
    *,
    actor,
    email: str,
    name: str = "",
    password: str | None = None,
    roles=(),
    template: str | None = None,
    permissions=(),
    auto_confirm: bool = False,
) -> User:
    """Create a user who can sign in with `password`, or a pending user
    (no usable password) when `password` is None -- the invitation flow
    completes those. Without `auto_confirm`, a user with a password is
    emailed a link to verify their address (outbox, same transaction).
    Guards: users:create, and escalation over everything the new user
    would hold."""
    action = events.USER_CREATED
    policies.check_permission(actor, "users:create", action=action)
    role_objs = resolve_roles(roles)
    grants = resolve_grants(template=template, permissions=permissions)
    policies.check_can_create_user(actor, roles=role_objs, grants=grants)

    email = validate_email_address(email)
    user = User(email=email, name=name.strip(), direct_permissions=grants)
    if password is not None:
        validate_password(password, user)
    user.set_password(password)
    now = timezone.now()
    if password is not None:
        user.password_changed_at = now
    if auto_confirm:
        user.email_verified_at = now
    user.save()
    UserRole.objects.bulk_create(
        [UserRole(user=user, role=r, assigned_by=person_of(actor)) for r in role_objs]
    )
    audit.record(
        action,
        actor=actor,
        target=user,
        changes={
            "email": [None, email],
            "name": [None, user.name],
            "roles": [[], [r.slug for r in role_objs]],
            "permissions": [[], grants],
            "auto_confirm": [None, auto_confirm],
            "has_password": [None, password is not None],
        },
    )
    if password is not None and not auto_confirm:
        # A pending user (no password) proves the address by accepting
        # their invitation instead.
        email_verification_send(user=user, actor=actor)
    return user


@service
def owner_bootstrap(*, email: str, password: str | None, name: str = "") -> User:
    """Create the single owner (first run). Refuses when an owner exists."""
    if User.objects.filter(is_owner=True).exists():
        raise ValidationError("An owner already exists.", code="owner_exists")
    email = validate_email_address(email)
    user = User(email=email, name=name, is_owner=True, email_verified_at=timezone.now())
    if password is not None:
        validate_password(password, user)
        user.password_changed_at = timezone.now()
    user.set_password(password)
    user.save()
    owner_role = Role.objects.get(slug="owner")
    UserRole.objects.create(user=user, role=owner_role)
    audit.record(
        events.OWNER_BOOTSTRAPPED,
        actor=None,
        target=user,
        changes={"email": [None, email], "is_owner": [False, True]},
    )
    return user


# --- profile and status -----------------------------------------------------

# A permanent ban is a ban that ends in a hundred years (seed 001).
PERMANENT_BAN = timedelta(days=365 * 100)
# Soft-deleted users can be restored for this long.
RESTORE_WINDOW = timedelta(days=30)


def _refuse_if_deleted(user, *, verb: str) -> None:
    if user.deleted_at is not None:
        raise ValidationError(
            f"This user is deleted; restore them before you {verb} them.", code="deleted"
        )


@service
def user_update(
    *, actor, user, name=None, email=None, phone=None, metadata=None, current_password=None
) -> User:
    """Edit a profile. Changing the email checks it is unused (any case),
    marks it unverified, kills outstanding tokens and tells the old address.
    Guards: `check_can_change_email` when the address changes (your own
    needs a fresh proof: through an API key, `current_password`);
    `check_can_update_profile` for everything else -- also when nothing
    changes, so an empty edit is no way to read a user."""
    action = events.USER_UPDATED
    user = lock_user(user)
    changes_email = email is not None and normalize_email(email) != user.email
    if not changes_email or any(v is not None for v in (name, phone, metadata)):
        policies.check_can_update_profile(actor, user)
    if changes_email:
        policies.check_can_change_email(actor, user, password=current_password)
    before = {
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "metadata": user.metadata,
    }
    after = dict(before)
    if name is not None:
        after["name"] = name.strip()[:150]
    if phone is not None:
        after["phone"] = validate_phone(phone)
    if metadata is not None:
        after["metadata"] = validate_metadata(metadata)
    if email is not None and normalize_email(email) != user.email:
        after["email"] = validate_email_address(email, user=user)
    changes = diff(before, after)
    if not changes:
        return user
    fields = list(changes)
    for field, value in after.items():
        setattr(user, field, value)
    old_email = before["email"]
    if "email" in changes:
        user.email_verified_at = None
        fields.append("email_verified_at")
        tokens_revoke_all(user)
    user.save(update_fields=[*fields, "updated_at"])
    audit.record(action, actor=actor, target=user, changes=changes)
    if "email" in changes:
        email_change_notify(user, old_email=old_email, actor=actor)
    return user


def email_change_notify(user, *, old_email: str, actor) -> None:
    """After `user`'s address changed (and was marked unverified): tell the
    old address, and send the new one a link to verify it. Called inside
    the changing service's transaction (both go through the outbox)."""
    email_queue(
        to=old_email,
        template="email_changed",
        context={"user": user, "old_email": old_email, "new_email": user.email},
        user=user,
    )
    email_verification_send(user=user, actor=actor)


def ban_end(until) -> datetime:
    """When a ban with this end ends: `None` means permanent (100 years)."""
    now = timezone.now()
    if until is None:
        return now + PERMANENT_BAN
    if until <= now:
        raise ValidationError("The ban must end in the future.", code="ban_in_past")
    return until


def _save_status(
    user, *, actor, action, values: dict, reason="", batch_id=None, ends_access="", changes=None
) -> User:
    """The shared end of the status services, once their guard has passed,
    `user` is locked and a change is due: set and save `values`, end the
    user's access for good when `ends_access` says why, and write the audit
    row -- each field's before and after, unless `changes` says otherwise."""
    changes = changes or {field: [getattr(user, field), value] for field, value in values.items()}
    for field, value in values.items():
        setattr(user, field, value)
    user.save(update_fields=[*values, "updated_at"])
    if ends_access:
        end_access(user, reason=ends_access)
    audit.record(
        action, actor=actor, target=user, reason=reason, changes=changes, batch_id=batch_id
    )
    return user


@service
def user_ban(*, actor, user, until=None, reason="", batch_id=None) -> User:
    """Ban until `until` (None: permanently). Ends sessions, kills tokens."""
    action = events.USER_BANNED
    user = lock_user(user)
    policies.check_can_ban(actor, user, batch_id=batch_id)
    end = ban_end(until)
    _refuse_if_deleted(user, verb="ban")
    at_stake = lock_organizations_at_stake(exclude_user_ids=[user.pk])
    policies.check_last_manager(
        actor, action=action, target=user, exclude_user_ids=[user.pk], at_stake=at_stake
    )
    reason = (reason or "").strip()[:500]
    if user.banned_until == end and user.ban_reason == reason:
        return user
    _save_status(
        user,
        actor=actor,
        action=action,
        values={"banned_until": end, "ban_reason": reason},
        reason=reason,
        batch_id=batch_id,
        ends_access="banned",
    )
    notify_status(user, "account_banned", until=end, permanent=until is None, reason=reason)
    return user


@service
def user_unban(*, actor, user, reason="", batch_id=None) -> User:
    action = events.USER_UNBANNED
    user = lock_user(user)
    policies.check_can_unban(actor, user, batch_id=batch_id)
    if user.banned_until is None:
        return user
    return _save_status(
        user,
        actor=actor,
        action=action,
        values={"banned_until": None, "ban_reason": ""},
        reason=reason,
        batch_id=batch_id,
    )


@service
def user_disable(*, actor, user, reason="", batch_id=None) -> User:
    action = events.USER_DISABLED
    user = lock_user(user)
    policies.check_can_disable(actor, user, batch_id=batch_id)
    _refuse_if_deleted(user, verb="disable")
    if user.disabled_at is not None:
        return user
    at_stake = lock_organizations_at_stake(exclude_user_ids=[user.pk])
    policies.check_last_manager(
        actor, action=action, target=user, exclude_user_ids=[user.pk], at_stake=at_stake
    )
    _save_status(
        user,
        actor=actor,
        action=action,
        values={"disabled_at": timezone.now()},
        reason=reason,
        batch_id=batch_id,
        ends_access="disabled",
    )
    notify_status(user, "account_disabled", reason=(reason or "").strip()[:500])
    return user


@service
def user_enable(*, actor, user, reason="", batch_id=None) -> User:
    action = events.USER_ENABLED
    user = lock_user(user)
    policies.check_can_enable(actor, user, batch_id=batch_id)
    if user.disabled_at is None:
        return user
    return _save_status(
        user,
        actor=actor,
        action=action,
        values={"disabled_at": None},
        reason=reason,
        batch_id=batch_id,
    )


@service
def user_force_password_change(*, actor, user, reason="", batch_id=None) -> User:
    """The user must choose a new password at their next sign-in."""
    action = events.USER_PASSWORD_CHANGE_FORCED
    user = lock_user(user)
    policies.check_can_force_password_change(actor, user, batch_id=batch_id)
    if user.must_change_password:
        return user
    return _save_status(
        user,
        actor=actor,
        action=action,
        values={"must_change_password": True},
        reason=reason,
        batch_id=batch_id,
        changes={"forced_change": [False, True]},
    )


@service
def user_delete(*, actor, user, reason="", batch_id=None) -> User:
    """Soft delete: the user cannot sign in, disappears from the default
    list and can be restored for RESTORE_WINDOW."""
    action = events.USER_DELETED
    user = lock_user(user)
    policies.check_can_delete(actor, user, batch_id=batch_id)
    if user.deleted_at is not None:
        return user
    at_stake = lock_organizations_at_stake(exclude_user_ids=[user.pk])
    policies.check_last_manager(
        actor, action=action, target=user, exclude_user_ids=[user.pk], at_stake=at_stake
    )
    return _save_status(
        user,
        actor=actor,
        action=action,
        values={"deleted_at": timezone.now()},
        reason=reason,
        batch_id=batch_id,
        ends_access="deleted",
    )


def restore_deadline(user):
    return user.deleted_at + RESTORE_WINDOW if user.deleted_at else None


@service
def user_restore(*, actor, user, reason="", batch_id=None) -> User:
    action = events.USER_RESTORED
    user = lock_user(user)
    policies.check_can_restore(actor, user, batch_id=batch_id)
    if user.deleted_at is None:
        return user
    if restore_deadline(user) <= timezone.now():
        raise ValidationError(
            "This user was deleted more than %(days)d days ago and can no longer be restored.",
            code="restore_expired",
            params={"days": RESTORE_WINDOW.days},
        )
    return _save_status(
        user,
        actor=actor,
        action=action,
        values={"deleted_at": None},
        reason=reason,
        batch_id=batch_id,
    )


@service
def user_hard_delete(*, actor, user, confirm_email, batch_id=None) -> None:
    """Erase the user for good, after the actor typed their email. The
    audit row is written first, while the user still exists."""
    action = events.USER_ERASED
    user = lock_user(user)
    policies.check_can_erase(actor, user, batch_id=batch_id)
    if normalize_email(confirm_email) != user.email:
        raise ValidationError(
            "Type the user's email address exactly to confirm.", code="confirm_mismatch"
        )
    at_stake = lock_organizations_at_stake(exclude_user_ids=[user.pk])
    policies.check_last_manager(
        actor, action=action, target=user, exclude_user_ids=[user.pk], at_stake=at_stake
    )
    sessions_end_all(user)
    audit.record(
        action,
        actor=actor,
        # Named now: a batch writes its events after the loop, when the
        # row (and the object's pk) is gone.
        target=audit.Target.of(user),
        changes={"email": [user.email, None], "name": [user.name, None]},
        batch_id=batch_id,
    )
    user.delete()
