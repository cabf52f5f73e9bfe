"""Batch actions on many users at once.

A batch is a loop over the single actions, read from their declarations
(`accounts.services.actions`): `batch_run` cleans the parameters with the
declaration, then calls, for each user, its guard, its state rule on the
locked row and the same service function (`user_ban`, `user_role_assign`,
...) that the user page, the API and the commands call, so each user gets
exactly the guard, the audit event and the notices one call would give
(Django admin's actions on users run through here too). The loop runs in
one transaction (per chunk, for jobs), with every
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

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import BatchJob
from accounts.selectors import USER_GONE
from accounts.services.access_endings import access_endings_collected
from accounts.services.actions import UserAction, user_action
from accounts.services.common import lock_organizations_at_stake, users_locked
from audit import events
from audit import services as audit
from core.services import refusal_text, service
from rbac import credentials, policies
from rbac.actor import Actor, as_actor

MAX_BATCH_SIZE = 5000
INLINE_LIMIT = 300
CHUNK_SIZE = 250


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


def _action(action: str) -> UserAction:
    """The declaration of a batchable action (`accounts.services.actions`)."""
    try:
        decl = user_action(action)
    except ValidationError:
        decl = None
    if decl is None or not decl.batch:
        raise ValidationError(
            "Unknown batch action %(action)s.", code="unknown_action", params={"action": action}
        )
    return decl


def clean_params(action: str, params) -> dict:
    """Validate an action's batch parameters against its declaration; the
    result is JSON-serialisable (a job stores it)."""
    return _action(action).clean(params, batch=True)


def _check_proof(actor, decl: UserAction, current_password) -> None:
    """An irreversible action needs the person, as the single one does: a
    fresh sign-in, or the current password (always, through a key). A job
    was proven when it was queued."""
    if decl.reauth and as_actor(actor).credential.kind != credentials.JOB:
        policies.check_fresh_proof(actor, action=decl.event, password=current_password or None)


@service
def batch_run(
    *, actor, action, user_ids, params=None, dry_run=False, batch_id=None, current_password=None
) -> dict:
    """Run (or, with `dry_run`, preview) `action` on `user_ids`.

    Returns {success, processed, skipped, errors: [{user_id, error}],
    items: [{user_id, email, outcome, reason}], batch_id}. The actor's
    permission for the action is checked once (a refusal denies the whole
    batch); then each user goes through the single action -- its named
    guard, its state rule read on the locked row, its change, its audit
    event and notices. A refused user is skipped with the guard's words
    and audited as denied; a user the action has nothing to do for is
    skipped without a call."""
    decl = _action(action)
    params = decl.clean(params, batch=True)
    ids, items = parse_ids(user_ids)
    policies.check_permission(actor, decl.permission, action=decl.event)
    if not dry_run:
        _check_proof(actor, decl, current_password)
    kwargs = decl.load(params)
    role = kwargs.get("role")
    if decl.key == "assign_role":
        # Refuse a role the actor cannot give once, not once per user (the
        # single action's guard asks the same first, so the codes agree).
        policies.check_can_give_role(actor, role)
    batch_id = batch_id or uuid.uuid4()
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
        at_stake = decl.at_stake(sorted(users), kwargs) if decl.at_stake and users else None
        if at_stake and not dry_run:
            lock_organizations_at_stake(**at_stake)
        facts = decl.facts_for(users.values(), kwargs)
        for pk in ids:
            user = users.get(pk)
            if user is None:
                items.append(_item(pk, "error", USER_GONE))
                continue
            try:
                decl.check(actor, user, batch_id=batch_id, **kwargs)
                reason = decl.why_not(user, facts)
                if reason:
                    items.append(_item(pk, "skipped", reason, user.email))
                    continue
                if not dry_run:
                    decl.service(
                        actor=actor, user=user, batch_id=batch_id, **kwargs, **decl.per_user(user)
                    )
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
def batch_job_create(*, actor, action, user_ids, params=None, current_password=None) -> BatchJob:
    """Queue a large batch. Validates it as `batch_run` would, stores the
    unique ids and queues the job after commit (if the broker is down, the
    job row says so and the sweep queues it once the broker is back)."""
    spec = _action(action)
    params = spec.clean(params, batch=True)
    ids, items = parse_ids(user_ids)
    policies.check_permission(actor, spec.permission, action=spec.event)
    _check_proof(actor, spec, current_password)
    scopes = actor.stored_scopes
    if scopes is not None:  # the job acts later with the key's scopes, no more
        params = {**params, "scopes": scopes}
    job = BatchJob(
        actor=actor.user,
        action=spec.key,
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
        events.BATCH_QUEUED,
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
