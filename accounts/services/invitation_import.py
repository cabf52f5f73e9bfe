"""Importing many invitations at once: rows from pasted text or a CSV file,
checked row by row (`invitation_rows_validate`), then sent -- each row
through `invitation_create`, the single action -- inline for a few or as a
durable background job (`invitation_import_start`) for many."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import BatchJob, Invitation, User, normalize_email
from accounts.services import jobs
from accounts.services.invitations import invitation_create
from accounts.services.validation import resolve_grants, validate_email_address
from audit import events
from audit import services as audit
from audit.services import Target
from core.services import refusal_text, service
from rbac import policies
from rbac.actor import Actor, as_actor
from rbac.models import Role

_SPLIT = re.compile(r"[\s,;]+")

# Up to this many addresses are invited in the request (page and API);
# more run as a background job (`invitation_import_start`).
INLINE_LIMIT = 10


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


@service
def invitation_rows_validate(*, actor, rows: list[ImportRow], template=None) -> list[ImportRow]:
    """Check every row before anything is sent: address, duplicates in the
    list, existing accounts and pending invitations, roles, escalation.
    Fills `row.errors`; sends nothing. A list that hands out roles or a
    template the actor may not hand out at all (roles:assign,
    permissions:grant) is refused whole (`check_can_invite_list`)."""

    template_perms = set(resolve_grants(template=template, permissions=())) if template else set()
    policies.check_can_invite_list(
        actor, roles=sorted({s for r in rows for s in r.roles}), grants=template_perms
    )
    roles_by_slug = {r.slug: r for r in Role.objects.all()}
    emails = {normalize_email(r.email) for r in rows}
    existing = {
        u.email: u
        for u in User.objects.filter(email__in=emails).only("email", "password", "deleted_at")
    }
    live = set(
        Invitation.objects.filter(email__in=emails)
        .with_status("pending")
        .values_list("email", flat=True)
    )
    seen: set[str] = set()
    for row in rows:
        row.email = normalize_email(row.email)
        try:
            validate_email_address(row.email, unique=False)
        except ValidationError as exc:
            if exc.code == "mixed_script":
                row.errors.append(" ".join(exc.messages))
            else:
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
        return {**row, "ok": False, "error": refusal_text(exc)}
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
    policies.check_permission(actor, "invitations:create", action=events.INVITATION_IMPORTED)
    params = {"rows": rows, "template": template, "expires_days": expires_days}
    scopes = actor.stored_scopes
    if scopes is not None:  # the job invites later with the key's scopes, no more
        params["scopes"] = scopes
    job = BatchJob(
        actor=actor.user,
        action="invite",
        params=params,
        user_ids=[],
        total=len(rows),
        permission="invitations:create",
        lease_until=jobs.lease_end(),
    )
    # Each chunk acts through this credential and stops once it ends.
    job.record_credential(as_actor(actor).credential)
    job.save(force_insert=True)
    audit.record(
        events.INVITATION_IMPORTED,
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
    actor = Actor.for_job(job.actor, job, params.get("scopes"))
    for row in rows:
        results.append(
            invitation_import_row(
                actor=actor,
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
