"""Batch actions on many users at once.

A batch is a loop over the single actions: `batch_run` calls, for each
user, the same service function (`user_ban`, `user_role_assign`, ...) that
the user page, the API, Django admin and the commands call, so each user
gets exactly the guard, the audit event and the notices one call would
give. The loop runs in one transaction (per chunk, for jobs), with every
user locked in one statement first and their permissions read in one query
after the lock (lock, then guard), and the audit rows written in
one insert at the end (`audit.deferred`), which keeps a batch several
times faster than the same number of separate requests. A dry run asks
each action's named guard and stops before the change.

Batches above INLINE_LIMIT users run as a Celery job (`batch_job_create`);
the job processes CHUNK_SIZE users per transaction and records progress on
its `BatchJob` row, which keeps the per-item result afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import BatchJob
from accounts.selectors import USER_GONE, user_locks
from accounts.services.common import users_locked
from accounts.services.lockout import user_unlock
from accounts.services.users import (
    RESTORE_WINDOW,
    access_endings_collected,
    ban_end,
    user_ban,
    user_delete,
    user_disable,
    user_enable,
    user_force_password_change,
    user_restore,
    user_unban,
)
from audit import services as audit
from core.services import refusal_text, service
from rbac import policies
from rbac.actor import Actor, as_actor
from rbac.models import Role, UserRole
from rbac.services import user_role_assign, user_role_remove

MAX_BATCH_SIZE = 5000
INLINE_LIMIT = 300
CHUNK_SIZE = 250


@dataclass(frozen=True)
class BatchAction:
    """A single action offered in batch: its service, the named guard the
    service calls first (asked alone in a dry run), and the permission that
    refuses the whole batch up front."""

    label: str
    service: Callable
    guard: Callable
    permission: str
    audit_action: str
    # Which cleaned parameters the single action takes.
    takes: tuple[str, ...] = ()


ACTIONS: dict[str, BatchAction] = {
    "ban": BatchAction(
        "Ban",
        user_ban,
        policies.check_can_ban,
        "users:ban",
        "accounts.user.banned",
        ("until", "reason"),
    ),
    "unban": BatchAction(
        "Unban",
        user_unban,
        policies.check_can_unban,
        "users:ban",
        "accounts.user.unbanned",
        ("reason",),
    ),
    "unlock": BatchAction(
        "Unlock",
        user_unlock,
        policies.check_can_unlock,
        "users:disable",
        "accounts.user.unlocked",
        ("reason",),
    ),
    "disable": BatchAction(
        "Disable",
        user_disable,
        policies.check_can_disable,
        "users:disable",
        "accounts.user.disabled",
        ("reason",),
    ),
    "enable": BatchAction(
        "Enable",
        user_enable,
        policies.check_can_enable,
        "users:disable",
        "accounts.user.enabled",
        ("reason",),
    ),
    "force_password_change": BatchAction(
        "Force password change",
        user_force_password_change,
        policies.check_can_force_password_change,
        "users:reset-password",
        "accounts.user.password_change_forced",
    ),
    "assign_role": BatchAction(
        "Assign role",
        user_role_assign,
        policies.check_can_assign_role,
        "roles:assign",
        "rbac.user_role.assigned",
        ("role",),
    ),
    "remove_role": BatchAction(
        "Remove role",
        user_role_remove,
        policies.check_can_remove_role,
        "roles:assign",
        "rbac.user_role.removed",
        ("role",),
    ),
    "delete": BatchAction(
        "Delete",
        user_delete,
        policies.check_can_delete,
        "users:delete",
        "accounts.user.deleted",
        ("reason",),
    ),
    "restore": BatchAction(
        "Restore",
        user_restore,
        policies.check_can_restore,
        "users:delete",
        "accounts.user.restored",
        ("reason",),
    ),
}


def parse_ids(user_ids) -> tuple[list[uuid.UUID], list[dict]]:
    """Unique valid ids in the order given, and an item for each invalid or
    repeated one."""
    if isinstance(user_ids, str) or not hasattr(user_ids, "__iter__"):
        raise ValidationError("user_ids must be a list of user ids.", code="invalid")
    user_ids = list(user_ids)
    if not user_ids:
        raise ValidationError("Select at least one user.", code="empty")
    if len(user_ids) > MAX_BATCH_SIZE:
        raise ValidationError(
            "A batch can hold at most %(limit)s users; this one has %(count)s. "
            "Narrow the filter or split the batch.",
            code="too_many",
            params={"limit": f"{MAX_BATCH_SIZE:,}", "count": f"{len(user_ids):,}"},
        )
    seen: set[uuid.UUID] = set()
    ids, items = [], []
    for raw in user_ids:
        try:
            pk = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except (ValueError, TypeError, AttributeError):
            items.append(_item(str(raw)[:64], "error", "Not a valid user id."))
            continue
        if pk in seen:
            items.append(_item(str(pk), "skipped", "Listed more than once; processed once."))
            continue
        seen.add(pk)
        ids.append(pk)
    return ids, items


def _item(user_id, outcome, reason="", email="") -> dict:
    return {"user_id": str(user_id), "email": email, "outcome": outcome, "reason": reason}


def clean_params(action: str, params) -> dict:
    """Validate an action's parameters; the result is JSON-serialisable."""
    params = dict(params or {})
    out: dict = {}
    if action in ("ban", "unban", "unlock", "disable", "enable", "delete", "restore"):
        out["reason"] = str(params.get("reason") or "").strip()[:500]
    if action == "ban":
        until = params.get("until")
        if isinstance(until, str) and until:
            try:
                until = datetime.fromisoformat(until)
            except ValueError:
                raise ValidationError("The ban end is not a valid date.", code="invalid") from None
        if until is not None and not isinstance(until, datetime):
            raise ValidationError("The ban end is not a valid date.", code="invalid")
        if until is not None and timezone.is_naive(until):
            until = timezone.make_aware(until)
        ban_end(until)  # refuses an end in the past
        out["until"] = until.isoformat() if until else None
    if action in ("assign_role", "remove_role"):
        slug = str(params.get("role") or "")
        role = Role.objects.filter(slug=slug).first()
        if role is None:
            raise ValidationError("Choose a role.", code="role_required")
        if role.slug == "owner":
            raise ValidationError(
                "The owner role cannot be assigned or removed in a batch; transfer ownership "
                "instead.",
                code="owner_role",
            )
        out["role"] = role.slug
    return out


def _action(action: str) -> BatchAction:
    try:
        return ACTIONS[action]
    except KeyError:
        raise ValidationError(
            "Unknown batch action %(action)s.", code="unknown_action", params={"action": action}
        ) from None


def _state_skip(action: str, user, params, role_holders, locked=()) -> str:
    """Why `user` needs nothing (already in that state), or ''."""
    now = timezone.now()
    if user.deleted_at is not None and action not in ("delete", "restore"):
        return "Deleted; restore the user first."
    if action == "ban" and user.banned_until and user.banned_until > now:
        return "Already banned."
    if action == "unban" and not user.banned_until:
        return "Not banned."
    if action == "unlock" and user.pk not in locked:
        return "Not locked."
    if action == "disable" and user.disabled_at:
        return "Already disabled."
    if action == "enable" and not user.disabled_at:
        return "Not disabled."
    if action == "force_password_change" and user.must_change_password:
        return "Already has to change password."
    if action == "delete" and user.deleted_at:
        return "Already deleted."
    if action == "restore":
        if not user.deleted_at:
            return "Not deleted."
        if user.deleted_at + RESTORE_WINDOW <= now:
            return f"Deleted more than {RESTORE_WINDOW.days} days ago; can no longer be restored."
    if action == "assign_role" and user.pk in role_holders:
        return "Already has this role."
    if action == "remove_role" and user.pk not in role_holders:
        return "Does not have this role."
    return ""


def _single_kwargs(spec: BatchAction, params: dict) -> dict:
    """The cleaned batch parameters as the single action's arguments."""
    kwargs = {}
    if "reason" in spec.takes:
        kwargs["reason"] = params.get("reason", "")
    if "until" in spec.takes:
        until = params.get("until")
        kwargs["until"] = datetime.fromisoformat(until) if until else None
    if "role" in spec.takes:
        kwargs["role"] = Role.objects.get(slug=params["role"])
    return kwargs


@service
def batch_run(*, actor, action, user_ids, params=None, dry_run=False, batch_id=None) -> dict:
    """Run (or, with `dry_run`, preview) `action` on `user_ids`.

    Returns {success, processed, skipped, errors: [{user_id, error}],
    items: [{user_id, email, outcome, reason}], batch_id}. The actor's
    permission for the action is checked once (a refusal denies the whole
    batch); then each user goes through the single action -- its named
    guard, its change, its audit event and notices. A refused user is
    skipped with the guard's words and audited as denied; a user already
    in the wanted state is skipped without a call."""
    spec = _action(action)
    params = clean_params(action, params)
    ids, items = parse_ids(user_ids)
    policies.check_permission(actor, spec.permission, action=spec.audit_action)
    kwargs = _single_kwargs(spec, params)
    role = kwargs.get("role")
    if action == "assign_role":
        # Refuse a role the actor cannot give once, not once per user (the
        # single action's guard asks the same first, so the codes agree).
        policies.check_can_give_role(actor, role)
    batch_id = batch_id or uuid.uuid4()
    guard_kwargs = {"role": role} if role is not None else {}
    denials: list[policies.PolicyDenied] = []
    with (
        audit.deferred(),
        access_endings_collected(),
        policies.owner_status_fixed(),
        # Lock, then guard: every user of the batch is locked (a dry run
        # only reads) and their permissions read after the lock, so the
        # guard and the state rule below judge each user as they are now;
        # the single action's `lock_user` gets the same locked object back.
        # A user outside the actor's reach is "gone" for them, as on a page.
        users_locked(ids, lock=not dry_run, within=actor.visible_users()) as (users, permissions),
    ):
        actor = actor.knowing(permissions)
        role_holders: set = set()
        if role is not None:
            role_holders = set(
                UserRole.objects.filter(role=role, user_id__in=ids).values_list(
                    "user_id", flat=True
                )
            )
        locked = user_locks(users.values()) if action == "unlock" else {}
        for pk in ids:
            user = users.get(pk)
            if user is None:
                items.append(_item(pk, "error", USER_GONE))
                continue
            try:
                spec.guard(actor, user, batch_id=batch_id, **guard_kwargs)
                reason = _state_skip(action, user, params, role_holders, locked)
                if reason:
                    items.append(_item(pk, "skipped", reason, user.email))
                    continue
                if not dry_run:
                    spec.service(actor=actor, user=user, batch_id=batch_id, **kwargs)
            except policies.PolicyDenied as exc:
                exc.batch_id = batch_id
                denials.append(exc)
                items.append(_item(pk, "skipped", exc.message, user.email))
                continue
            except ValidationError as exc:
                items.append(_item(pk, "skipped", refusal_text(exc), user.email))
                continue
            items.append(_item(pk, "processed", "", user.email))
        if not dry_run:
            for exc in denials:
                exc.record()
    return _result(items, batch_id, dry_run)


def _result(items, batch_id, dry_run) -> dict:
    errors = [
        {"user_id": i["user_id"], "error": i["reason"]} for i in items if i["outcome"] == "error"
    ]
    return {
        "success": not errors,
        "dry_run": dry_run,
        "processed": sum(1 for i in items if i["outcome"] == "processed"),
        "skipped": sum(1 for i in items if i["outcome"] == "skipped"),
        "errors": errors,
        "items": items,
        "batch_id": str(batch_id),
    }


# --- batches run as Celery jobs ---------------------------------------------
# Durability (lease, heartbeat, sweep, retries) lives in accounts.services.jobs.
# Imported here rather than at the top so that this section and the batch
# action above can change independently (they are owned by different work).
from accounts.services import jobs  # noqa: E402


@service
def batch_job_create(*, actor, action, user_ids, params=None) -> BatchJob:
    """Queue a large batch. Validates it as `batch_run` would, stores the
    unique ids and queues the job after commit (if the broker is down, the
    job row says so and the sweep queues it once the broker is back)."""
    spec = _action(action)
    params = clean_params(action, params)
    ids, items = parse_ids(user_ids)
    policies.check_permission(actor, spec.permission, action=spec.audit_action)
    scopes = actor.stored_scopes
    if scopes is not None:  # the job acts later with the key's scopes, no more
        params = {**params, "scopes": scopes}
    job = BatchJob(
        actor=actor.user,
        action=action,
        params=params,
        user_ids=[str(pk) for pk in ids],
        total=len(ids),
        result=_result(items, uuid.uuid4(), False) | {"batch_id": ""},
        permission=spec.permission,
        lease_until=jobs.lease_end(),
    )
    # Each chunk acts through this credential and stops once it ends.
    job.record_credential(as_actor(actor).credential)
    job.save(force_insert=True)
    audit.record(
        "accounts.batch.queued",
        actor=actor,
        target=audit.Target("batch", str(job.pk), f"{spec.label} × {len(ids)}"),
        changes={"action": [None, action], "count": [None, len(ids)]},
        batch_id=job.pk,
    )
    transaction.on_commit(lambda: jobs.job_enqueue(job.pk, "batch"))
    return job


def _batch_step(job: BatchJob) -> None:
    """One chunk of a batch job (called by jobs.job_run inside the chunk's
    transaction, with the job row locked): run it and record its items."""
    chunk = job.user_ids[job.done : job.done + CHUNK_SIZE]
    actor = Actor.for_job(job.actor, job, (job.params or {}).get("scopes"))
    try:
        part = batch_run(
            actor=actor,
            action=job.action,
            user_ids=chunk,
            params=job.params,
            batch_id=job.pk,
        )
    except policies.PolicyDenied as exc:
        raise jobs.JobFailed(exc.message) from exc
    except ValidationError as exc:
        raise jobs.JobFailed(refusal_text(exc)) from exc
    items = list((job.result or {}).get("items", [])) + part["items"]
    job.done += len(chunk)
    job.result = _result(items, job.pk, False)


def batch_job_run(job_id, *, runner: str = "") -> str:
    """Process a queued job chunk by chunk; each chunk commits together with
    its progress and items. Safe to run twice: a finished job is left alone,
    a restarted one resumes at the first chunk not committed."""
    return jobs.job_run(job_id, runner=runner, step=_batch_step)
