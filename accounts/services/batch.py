"""Batch actions on many users at once.

`batch_run` checks every item with the same guard predicates as the single
actions (self, owner, hierarchy), skips users already in the wanted state,
then changes the remaining ones with set-based UPDATEs and writes every
audit row in one insert under one batch id. A dry run stops before the
change and reports what would happen, item by item.

Batches above INLINE_LIMIT users run as a Celery job (`batch_job_create`);
the job processes CHUNK_SIZE users per transaction and records progress on
its `BatchJob` row, which keeps the per-item result afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import BatchJob, User
from accounts.services.sessions import sessions_end_for_users
from accounts.services.tokens import tokens_revoke_for_users
from accounts.services.users import RESTORE_WINDOW, ban_end
from audit import services as audit
from audit.services import EventSpec
from handover.services import service
from rbac import policies
from rbac.permissions import ALL_PERMISSIONS, CATALOG

MAX_BATCH_SIZE = 5000
INLINE_LIMIT = 300
CHUNK_SIZE = 250


@dataclass(frozen=True)
class BatchAction:
    label: str
    permission: str
    audit_action: str
    verb: str
    past: str
    ends_access: bool = False
    needs_manager_check: bool = False


ACTIONS: dict[str, BatchAction] = {
    "ban": BatchAction("Ban", "users:ban", "accounts.user.banned", "ban", "banned", True, True),
    "unban": BatchAction("Unban", "users:ban", "accounts.user.unbanned", "unban", "unbanned"),
    "disable": BatchAction(
        "Disable", "users:disable", "accounts.user.disabled", "disable", "disabled", True, True
    ),
    "enable": BatchAction("Enable", "users:disable", "accounts.user.enabled", "enable", "enabled"),
    "force_password_change": BatchAction(
        "Force password change",
        "users:update",
        "accounts.user.password_change_forced",
        "force a password change on",
        "forced to change password",
    ),
    "assign_role": BatchAction(
        "Assign role", "roles:assign", "rbac.role.assigned", "change the roles of", "demoted"
    ),
    "remove_role": BatchAction(
        "Remove role", "roles:assign", "rbac.role.removed", "change the roles of", "demoted"
    ),
    "delete": BatchAction(
        "Delete", "users:delete", "accounts.user.deleted", "delete", "deleted", True, True
    ),
    "restore": BatchAction(
        "Restore", "users:delete", "accounts.user.restored", "restore", "restored"
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
    if action in ("ban", "unban", "disable", "enable", "delete", "restore"):
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
        from rbac.models import Role

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


def _prime_permissions(users) -> None:
    """Compute every user's effective permissions in one query and cache
    them on the objects, so the guard predicates below run no queries."""
    from rbac.models import UserRole
    from rbac.selectors import _CACHE_ATTR

    by_user: dict = {
        u.pk: set(p for p in (u.direct_permissions or []) if p in CATALOG) for u in users
    }
    rows = UserRole.objects.filter(user_id__in=list(by_user)).values_list(
        "user_id", "role__permissions"
    )
    for user_id, perms in rows:
        by_user[user_id].update(p for p in perms or [] if p in CATALOG)
    for user in users:
        perms = ALL_PERMISSIONS if user.is_owner else frozenset(by_user[user.pk])
        setattr(user, _CACHE_ATTR, perms)


def _state_skip(action: str, user, params, role_holders) -> str:
    """Why `user` needs nothing (already in that state), or ''."""
    now = timezone.now()
    if user.deleted_at is not None and action not in ("delete", "restore"):
        return "Deleted; restore the user first."
    if action == "ban" and user.banned_until and user.banned_until > now:
        return "Already banned."
    if action == "unban" and not user.banned_until:
        return "Not banned."
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
            return "Deleted more than 30 days ago; can no longer be restored."
    if action == "assign_role" and user.pk in role_holders:
        return "Already has this role."
    if action == "remove_role" and user.pk not in role_holders:
        return "Does not have this role."
    return ""


@service
def batch_run(*, actor, action, user_ids, params=None, dry_run=False, batch_id=None) -> dict:
    """Run (or, with `dry_run`, preview) `action` on `user_ids`.

    Returns {success, processed, skipped, errors: [{user_id, error}],
    items: [{user_id, email, outcome, reason}], batch_id}. The actor's
    permission for the action is checked once (a refusal denies the whole
    batch); self, owner and hierarchy are checked per item and refused
    items are skipped with the reason and audited as denied."""
    spec = _action(action)
    params = clean_params(action, params)
    ids, items = parse_ids(user_ids)
    policies.check_permission(actor, spec.permission, action=spec.audit_action)
    role = None
    if action in ("assign_role", "remove_role"):
        from rbac.models import Role

        role = Role.objects.get(slug=params["role"])
        if action == "assign_role":
            policies.check_escalation(actor, role.permissions, action=spec.audit_action)
    batch_id = batch_id or uuid.uuid4()

    qs = User.objects.filter(pk__in=ids)
    if not dry_run:
        qs = qs.select_for_update()
    users = {u.pk: u for u in qs}
    _prime_permissions(users.values())
    role_holders: set = set()
    if role is not None:
        from rbac.models import UserRole

        role_holders = set(
            UserRole.objects.filter(role=role, user_id__in=ids).values_list("user_id", flat=True)
        )

    ok: list[User] = []
    denied: list[tuple[User, policies.PolicyDenied]] = []
    for pk in ids:
        user = users.get(pk)
        if user is None:
            items.append(_item(pk, "error", "No user with this id (it may have been deleted)."))
            continue
        try:
            policies.check_not_self(actor, user, action=spec.audit_action, verb=spec.verb)
            policies.check_not_owner(actor, user, action=spec.audit_action, verb=spec.past)
            policies.check_hierarchy(actor, user, action=spec.audit_action)
        except policies.PolicyDenied as exc:
            denied.append((user, exc))
            items.append(_item(pk, "skipped", exc.message, user.email))
            continue
        reason = _state_skip(action, user, params, role_holders)
        if reason:
            items.append(_item(pk, "skipped", reason, user.email))
            continue
        ok.append(user)
        items.append(_item(pk, "processed", "", user.email))

    if ok and spec.needs_manager_check:
        policies.check_last_manager(
            actor, action=spec.audit_action, exclude_user_ids=[u.pk for u in ok]
        )
    if not dry_run:
        events = [
            EventSpec(
                action=spec.audit_action,
                actor=actor,
                target=user,
                outcome="denied",
                reason=f"{exc.code}: {exc.message}",
                batch_id=batch_id,
            )
            for user, exc in denied
        ]
        if ok:
            if role is not None:
                _apply_role(actor, action, ok, role, batch_id, items)
            else:
                events += _apply(actor, action, spec, ok, params, batch_id)
        audit.record_many(events)
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


def _apply(actor, action, spec, users, params, batch_id) -> list[EventSpec]:
    """The set-based change; returns the success audit rows."""
    now = timezone.now()
    pks = [u.pk for u in users]
    qs = User.objects.filter(pk__in=pks)
    reason = params.get("reason", "")

    def event(user, changes):
        return EventSpec(
            action=spec.audit_action,
            actor=actor,
            target=user,
            reason=reason,
            changes=changes,
            batch_id=batch_id,
        )

    if action == "ban":
        until = params.get("until")
        end = ban_end(datetime.fromisoformat(until) if until else None)
        qs.update(banned_until=end, ban_reason=reason, updated_at=now)
        events = [
            event(u, {"banned_until": [u.banned_until, end], "ban_reason": [u.ban_reason, reason]})
            for u in users
        ]
    elif action == "unban":
        qs.update(banned_until=None, ban_reason="", updated_at=now)
        events = [event(u, {"banned_until": [u.banned_until, None]}) for u in users]
    elif action == "disable":
        qs.update(disabled_at=now, updated_at=now)
        events = [event(u, {"disabled_at": [None, now]}) for u in users]
    elif action == "enable":
        qs.update(disabled_at=None, updated_at=now)
        events = [event(u, {"disabled_at": [u.disabled_at, None]}) for u in users]
    elif action == "force_password_change":
        qs.update(must_change_password=True, updated_at=now)
        events = [event(u, {"forced_change": [False, True]}) for u in users]
    elif action == "delete":
        qs.update(deleted_at=now, updated_at=now)
        events = [event(u, {"deleted_at": [None, now]}) for u in users]
    elif action == "restore":
        qs.update(deleted_at=None, updated_at=now)
        events = [event(u, {"deleted_at": [u.deleted_at, None]}) for u in users]
    else:  # pragma: no cover - ACTIONS and this switch are kept in step
        raise ValidationError("Unknown batch action.", code="unknown_action")
    if spec.ends_access:
        sessions_end_for_users(pks)
        tokens_revoke_for_users(pks)
    return events


def _apply_role(actor, action, users, role, batch_id, items) -> None:
    """Role changes go through RBAC's single-item service (it owns the
    guards and the audit row); a refusal skips that user only."""
    from rbac.services import user_role_assign, user_role_remove  # rbac imports accounts

    func = user_role_assign if action == "assign_role" else user_role_remove
    by_id = {i["user_id"]: i for i in items}
    for user in users:
        try:
            with transaction.atomic():
                func(actor=actor, user=user, role=role, batch_id=batch_id)
        except (policies.PolicyDenied, ValidationError) as exc:
            item = by_id[str(user.pk)]
            item["outcome"] = "skipped"
            item["reason"] = getattr(exc, "message", None) or "; ".join(exc.messages)


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
    job = BatchJob.objects.create(
        actor=actor,
        action=action,
        params=params,
        user_ids=[str(pk) for pk in ids],
        total=len(ids),
        result=_result(items, uuid.uuid4(), False) | {"batch_id": ""},
        permission=spec.permission,
        lease_until=jobs.lease_end(),
    )
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
    try:
        part = batch_run(
            actor=job.actor,
            action=job.action,
            user_ids=chunk,
            params=job.params,
            batch_id=job.pk,
        )
    except policies.PolicyDenied as exc:
        raise jobs.JobFailed(exc.message) from exc
    except ValidationError as exc:
        raise jobs.JobFailed("; ".join(exc.messages)) from exc
    items = list((job.result or {}).get("items", [])) + part["items"]
    job.done += len(chunk)
    job.result = _result(items, job.pk, False)


def batch_job_run(job_id, *, runner: str = "") -> str:
    """Process a queued job chunk by chunk; each chunk commits together with
    its progress and items. Safe to run twice: a finished job is left alone,
    a restarted one resumes at the first chunk not committed."""
    return jobs.job_run(job_id, runner=runner, step=_batch_step)
