"""Invitations: invite a client by email, resend, revoke, accept.

An invitation creates the pending user at once (no usable password, no
roles yet) so the address is reserved and shows up in the user list as
`invited`; the roles and direct permissions it carries are granted only
when the client accepts, so a pending account holds nothing. The token is
>=128 bits, stored as a hash on the invitation, and dies on resend.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import BatchJob, Invitation, User, normalize_email
from accounts.services import jobs
from accounts.services.emails import email_queue, site_link
from accounts.services.tokens import lookup_digest, new_token
from accounts.services.users import resolve_grants, resolve_roles
from audit import services as audit
from audit.services import Target
from core.services import service
from rbac import policies
from rbac.models import Role, UserRole
from rbac.selectors import forget_permissions


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
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason
        self.message = self.MESSAGES[reason]


def _target(invitation: Invitation) -> Target:
    return Target(type="invitation", id=str(invitation.pk), label=invitation.email)


def _clean_email(email: str) -> str:
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            "Enter a valid email address (%(email)s is not one).",
            code="invalid_email",
            params={"email": email or "empty"},
        ) from None
    return email


def _pending_user_for(email: str) -> User | None:
    """The account an invitation to `email` may attach to: none yet, or a
    pending (never activated) account without a live invitation. Any other
    account is refused with a message saying what to do instead."""
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        return None
    if user.has_usable_password() or user.deleted_at:
        raise ValidationError(
            "%(email)s already has an account. Manage it from the Users page instead.",
            code="user_exists",
            params={"email": email},
        )
    live = Invitation.objects.filter(
        user=user, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )
    if live.exists():
        raise ValidationError(
            "%(email)s already has a pending invitation. Resend it instead.",
            code="invitation_pending",
            params={"email": email},
        )
    return user


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
) -> tuple[Invitation, str]:
    """Invite `email` with `roles` and/or a permission `template` /
    `permissions`. Returns (invitation, link); the link is also emailed
    after commit. `expires_in` (timedelta) defaults to INVITATION_TTL.

    An address with an active or deleted account is refused (409); a
    pending account (never activated, no live invitation) may be invited
    again, which counts as acting on it: `check_can_invite` wants the
    hierarchy over it and escalation over everything it will hold once
    the invitation is accepted -- its own roles and grants included."""
    action = "accounts.invitation.created"
    policies.check_permission(actor, "invitations:create", action=action)
    email = _clean_email(email)
    role_objs = resolve_roles(roles)
    grants = resolve_grants(template=template, permissions=permissions)
    user = _pending_user_for(email)
    policies.check_can_invite(actor, email=email, roles=role_objs, grants=grants, account=user)
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
            "accounts.user.created",
            actor=actor,
            target=user,
            changes={"email": [None, email], "via": [None, "invitation"]},
            batch_id=batch_id,
        )
    token, digest = new_token()
    invitation = Invitation.objects.create(
        email=email,
        name=name or user.name,
        user=user,
        permissions=grants,
        invited_by=actor,
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
            "expires_at": [None, invitation.expires_at.isoformat()],
        },
        batch_id=batch_id,
    )
    link = _send(invitation, token, inviter=actor)
    return invitation, link


def _lock(invitation: Invitation) -> Invitation:
    return Invitation.objects.select_for_update().get(pk=invitation.pk)


@service
def invitation_resend(*, actor, invitation: Invitation) -> tuple[Invitation, str]:
    """A new token (the old link dies) and a new expiry, emailed again.
    Works on pending and expired invitations."""
    action = "accounts.invitation.resent"
    policies.check_permission(
        actor, "invitations:create", action=action, target=_target(invitation)
    )
    policies.check_can_invite(
        actor,
        email=invitation.email,
        roles=list(invitation.roles.all()),
        grants=invitation.permissions,
        account=invitation.user,
        action=action,
    )
    invitation = _lock(invitation)
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
    action = "accounts.invitation.revoked"
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
    return _check(invitation)


def _check(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise InvitationInvalid("unknown")
    status = invitation.status
    if status != "pending":
        raise InvitationInvalid(status)
    user = invitation.user
    if user is None or user.deleted_at or user.disabled_at or user.has_usable_password():
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
    UserRole.objects.bulk_create(
        [UserRole(user=user, role=r, assigned_by=invitation.invited_by) for r in role_objs],
        ignore_conflicts=True,
    )
    invitation.accepted_at = now
    invitation.save(update_fields=["accepted_at"])
    Invitation.objects.filter(user=user, accepted_at__isnull=True, revoked_at__isnull=True).exclude(
        pk=invitation.pk
    ).update(revoked_at=now)
    forget_permissions(user)
    audit.record(
        "accounts.invitation.accepted",
        actor=user,
        target=_target(invitation),
        changes={
            "roles": [[], [r.slug for r in role_objs]],
            "permissions": [[], list(invitation.permissions)],
        },
    )
    return user


# --- importing many --------------------------------------------------------

_SPLIT = re.compile(r"[\s,;]+")


@dataclass
class ImportRow:
    line: int
    email: str
    name: str = ""
    roles: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"line": self.line, "email": self.email, "name": self.name, "roles": self.roles}


def invitation_rows_from_text(text: str, *, roles=()) -> list[ImportRow]:
    """A pasted list: addresses separated by spaces, commas, semicolons or
    new lines, each invited with `roles`."""
    rows = []
    for n, item in enumerate(t for t in _SPLIT.split(text or "") if t):
        rows.append(ImportRow(line=n + 1, email=item, roles=list(roles)))
    return rows


def invitation_rows_from_csv(data: str, *, roles=()) -> list[ImportRow]:
    """A CSV of email,name,roles (roles separated by `;` or `|` or spaces;
    the form's roles when empty). A header row is skipped."""
    rows = []
    if "\x00" in data:
        line = data.count("\n", 0, data.index("\x00")) + 1
        raise ValidationError(
            "The CSV file contains a NUL byte (line %(line)d); is it a text file?",
            code="invalid_csv",
            params={"line": line},
        )
    reader = csv.reader(io.StringIO(data))
    try:
        records = list(enumerate(reader, start=1))
    except csv.Error as exc:
        # e.g. a field over csv.field_size_limit() (128 KiB): no address
        # line is that long, so the file is refused rather than the limit
        # raised.
        too_long = "field larger than field limit" in str(exc)
        raise ValidationError(
            "The CSV file could not be read at line %(line)d: %(reason)s.",
            code="invalid_csv",
            params={
                "line": reader.line_num,
                "reason": "a field is too long" if too_long else str(exc),
            },
        ) from None
    for n, record in records:
        cells = [c.strip() for c in record]
        if not any(cells):
            continue
        if n == 1 and cells[0].lower() in {"email", "e-mail", "email address"}:
            continue
        email = cells[0] if cells else ""
        name = cells[1] if len(cells) > 1 else ""
        row_roles = [r for r in re.split(r"[;|\s]+", cells[2]) if r] if len(cells) > 2 else []
        rows.append(ImportRow(line=n, email=email, name=name, roles=row_roles or list(roles)))
    return rows


def invitation_rows_validate(*, actor, rows: list[ImportRow], template=None) -> list[ImportRow]:
    """Check every row before anything is sent: address, duplicates in the
    list, existing accounts and pending invitations, roles, escalation.
    Fills `row.errors`; sends nothing."""

    roles_by_slug = {r.slug: r for r in Role.objects.all()}
    template_perms = set(resolve_grants(template=template, permissions=())) if template else set()
    emails = {normalize_email(r.email) for r in rows}
    existing = {
        u.email: u
        for u in User.objects.filter(email__in=emails).only("email", "password", "deleted_at")
    }
    live = set(
        Invitation.objects.filter(
            email__in=emails,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).values_list("email", flat=True)
    )
    seen: set[str] = set()
    for row in rows:
        row.email = normalize_email(row.email)
        try:
            validate_email(row.email)
        except ValidationError:
            row.errors.append(f"{row.email or 'Empty'} is not a valid email address.")
            continue
        if row.email in seen:
            row.errors.append("Listed twice; only the first line is used.")
            continue
        seen.add(row.email)
        user = existing.get(row.email)
        if user is not None and (user.has_usable_password() or user.deleted_at):
            row.errors.append("Already has an account.")
        elif row.email in live:
            row.errors.append("Already has a pending invitation; resend it instead.")
        unknown = [s for s in row.roles if s not in roles_by_slug]
        if unknown:
            row.errors.append("Unknown role: %s." % ", ".join(unknown))
        if "owner" in row.roles:
            row.errors.append("The owner role cannot be given by invitation.")
        wanted = set(template_perms)
        for slug in row.roles:
            if slug in roles_by_slug:
                wanted.update(roles_by_slug[slug].permissions)
        missing = policies.missing_permissions(actor, wanted)
        if missing:
            row.errors.append(
                "You cannot grant permissions you do not hold: %s." % ", ".join(sorted(missing))
            )
    return rows


def invitation_import_row(
    *, actor, row: dict, template=None, expires_in=None, batch_id=None, with_link=False
) -> dict:
    """Invite one imported row; the per-address result (never raises for a
    refusal: it is reported on that row). `with_link` adds the invitation
    link for an answer shown once -- never for results kept in the database."""
    try:
        invitation, link = invitation_create(
            actor=actor,
            email=row["email"],
            name=row.get("name", ""),
            roles=row.get("roles", ()),
            template=template or None,
            expires_in=expires_in,
            batch_id=batch_id,
        )
    except policies.PolicyDenied as exc:
        return {**row, "ok": False, "error": exc.message}
    except ValidationError as exc:
        return {**row, "ok": False, "error": " ".join(exc.messages)}
    result = {**row, "ok": True, "invitation_id": str(invitation.pk)}
    if with_link:
        result["link"] = link
    return result


# Rows per transaction in a background import. Small: each invitation
# writes an audit event, and the chunk holds the audit chain's lock until it
# commits, so other writers wait at most this many invitations.
IMPORT_CHUNK_SIZE = 20


@service
def invitation_import_start(*, actor, rows: list[dict], template=None, expires_days=None):
    """Record a large import as a BatchJob and queue it (after commit); the
    page follows `done` / `total`. Never runs the import in the request: if
    the broker is down the job row says so and the sweep queues it once the
    broker is back."""
    policies.check_permission(actor, "invitations:create", action="accounts.invitation.imported")
    job = BatchJob.objects.create(
        actor=actor,
        action="invite",
        params={"rows": rows, "template": template, "expires_days": expires_days},
        user_ids=[],
        total=len(rows),
        permission="invitations:create",
        lease_until=jobs.lease_end(),
    )
    audit.record(
        "accounts.invitation.imported",
        actor=actor,
        target=Target(type="batch", id=str(job.pk), label=f"{len(rows)} invitations"),
        batch_id=job.pk,
    )
    transaction.on_commit(lambda: jobs.job_enqueue(job.pk, "import"))
    return job


def _import_step(job: BatchJob) -> None:
    """One chunk of an import (called by jobs.job_run inside the chunk's
    transaction, with the job row locked): invite the next rows and record
    each row's outcome with them."""
    params = job.params or {}
    expires_in = timedelta(days=params["expires_days"]) if params.get("expires_days") else None
    rows = params.get("rows", [])[job.done : job.done + IMPORT_CHUNK_SIZE]
    results = list((job.result or {}).get("items", []))
    for row in rows:
        results.append(
            invitation_import_row(
                actor=job.actor,
                row=row,
                template=params.get("template"),
                expires_in=expires_in,
                batch_id=job.pk,
            )
        )
    job.done += len(rows)
    job.result = {"items": results}


def invitation_import_run(job_id, *, runner: str = "") -> str:
    """Run an import recorded as a BatchJob, IMPORT_CHUNK_SIZE rows per
    transaction, each chunk committing with its progress and outcomes. Safe
    to run again: it resumes at the first row not committed."""
    return jobs.job_run(job_id, runner=runner, step=_import_step)
