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

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Invitation, User, normalize_email
from accounts.services.emails import email_queue, site_link
from accounts.services.tokens import lookup_digest, new_token
from accounts.services.users import resolve_grants, resolve_roles
from audit import services as audit
from audit.services import Target
from handover.services import service
from rbac import policies
from rbac.models import UserRole
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


def _wanted(role_objs, grants) -> set[str]:
    wanted = set(grants)
    for role in role_objs:
        wanted.update(role.permissions)
    return wanted


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
    `permissions`. Guards: invitations:create and escalation over all that
    the invitation would grant. Returns (invitation, link); the link is
    also emailed after commit. `expires_in` (timedelta) defaults to
    INVITATION_TTL."""
    action = "accounts.invitation.created"
    policies.check_permission(actor, "invitations:create", action=action)
    email = _clean_email(email)
    role_objs = resolve_roles(roles)
    grants = resolve_grants(template=template, permissions=permissions)
    policies.check_escalation(
        actor, _wanted(role_objs, grants), action=action, target=Target("invitation", "", email)
    )
    user = _pending_user_for(email)
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
    invitation = _lock(invitation)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(
            "This invitation was %(status)s; it cannot be resent. "
            "Invite the address again instead.",
            code="not_pending",
            params={"status": invitation.status},
        )
    role_objs = list(invitation.roles.all())
    policies.check_escalation(
        actor, _wanted(role_objs, invitation.permissions), action=action, target=_target(invitation)
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
    policies.check_permission(
        actor, "invitations:revoke", action=action, target=_target(invitation)
    )
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
    from rbac.models import Role

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


@service
def invitation_import_start(*, actor, rows: list[dict], template=None, expires_days=None):
    """Record a large import as a BatchJob and run it in the background
    (after commit); the page follows `done` / `total`."""
    from accounts.models import BatchJob

    policies.check_permission(actor, "invitations:create", action="accounts.invitation.imported")
    job = BatchJob.objects.create(
        actor=actor,
        action="invite",
        params={"rows": rows, "template": template, "expires_days": expires_days},
        user_ids=[],
        total=len(rows),
    )
    audit.record(
        "accounts.invitation.imported",
        actor=actor,
        target=Target(type="batch", id=str(job.pk), label=f"{len(rows)} invitations"),
        batch_id=job.pk,
    )

    def start():
        from accounts.tasks import invitation_import

        try:
            invitation_import.delay(str(job.pk))
        except Exception:  # broker down: run it here rather than lose it
            invitation_import_run(job.pk)

    transaction.on_commit(start)
    return job


def invitation_import_run(job_id) -> None:
    """Run an import recorded as a BatchJob, one row per transaction, with
    progress in `done` so the page can show a bar. Safe to run again: rows
    already done are skipped."""
    from datetime import timedelta

    from accounts.models import BatchJob

    job = BatchJob.objects.select_related("actor").get(pk=job_id)
    if job.status == "done":
        return
    params = job.params or {}
    expires_in = timedelta(days=params["expires_days"]) if params.get("expires_days") else None
    results = list((job.result or {}).get("items", []))
    done_emails = {r["email"] for r in results}
    BatchJob.objects.filter(pk=job.pk).update(status="running")
    for row in params.get("rows", []):
        if row["email"] in done_emails:
            continue
        results.append(
            invitation_import_row(
                actor=job.actor,
                row=row,
                template=params.get("template"),
                expires_in=expires_in,
                batch_id=job.pk,
            )
        )
        BatchJob.objects.filter(pk=job.pk).update(done=len(results), result={"items": results})
    BatchJob.objects.filter(pk=job.pk).update(
        status="done", done=len(results), result={"items": results}, finished_at=timezone.now()
    )
