"""`/api/admin/jobs/...`: batch actions and invitation imports running in
the background -- the jobs page's list, a job's progress and per-item
results, cancel and resume -- through the same reads and guards
(`accounts.selectors.jobs`, `rbac.policies.jobs`). A job the key may not
see does not exist (404)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone
from ninja import Router, Schema, Status

from accounts.api.common import actor_of
from accounts.models import BatchJob
from accounts.selectors import jobs as job_selectors
from accounts.services import jobs as job_services
from core.api_errors import responses
from rbac import policies

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: uuid.UUID
    kind: str  # "batch" | "import"
    action: str
    status: str  # pending | running | done | failed | cancelled
    total: int
    done: int
    created_by: uuid.UUID | None
    created_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    attempts: int
    last_error: str
    stale: bool
    can_cancel: bool
    can_resume: bool
    can_read_results: bool


class JobDetailOut(JobOut):
    # The per-item results (a user or an address each, with its outcome);
    # null unless `can_read_results` (users:read for a batch,
    # invitations:read for an import, or the job's creator).
    items: list[dict] | None


def job_out(job: BatchJob, actor, *, with_items: bool = False) -> dict:
    now = timezone.now()
    readable = policies.user_can_read_job_results(actor, job)
    out = {
        "id": job.pk,
        "kind": job.kind,
        "action": job.action,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "created_by": job.actor_id,
        "created_at": job.created_at,
        "heartbeat_at": job.heartbeat_at,
        "finished_at": job.finished_at,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "stale": bool(job.is_open and job.lease_until and job.lease_until < now),
        "can_cancel": job.is_open and policies.user_can_cancel_job(actor, job),
        "can_resume": job.status in ("failed", "cancelled")
        and policies.user_can_resume_job(actor, job),
        "can_read_results": readable,
    }
    if with_items:
        out["items"] = list((job.result or {}).get("items", [])) if readable else None
    return out


@router.get("", response=responses(200, list[JobOut]), summary="List background jobs")
def list_jobs(request):
    """The newest jobs the key may see (its user's own, and those needing a
    permission it holds), newest first, as on the jobs page."""
    actor = actor_of(request)
    return Status(200, [job_out(j, actor) for j in job_selectors.job_list(actor=actor)])


@router.get("/{uuid:job_id}", response=responses(200, JobDetailOut), summary="Get a job")
def get_job(request, job_id: uuid.UUID):
    """Its progress, and its per-item results for a key that may read them."""
    actor = actor_of(request)
    job = job_selectors.job_get(job_id, actor=actor)
    return Status(200, job_out(job, actor, with_items=True))


@router.post("/{uuid:job_id}/cancel", response=responses(200, JobOut), summary="Cancel a job")
def cancel_job(request, job_id: uuid.UUID):
    """Stop an open job after the chunk running now (nothing changes for a
    finished one). Someone else's job needs the hierarchy over its creator."""
    actor = actor_of(request)
    job = job_services.job_cancel(actor=actor, job=job_selectors.job_get(job_id, actor=actor))
    return Status(200, job_out(job, actor))


@router.post("/{uuid:job_id}/resume", response=responses(200, JobOut), summary="Resume a job")
def resume_job(request, job_id: uuid.UUID):
    """Start a failed or cancelled job again where it stopped; another
    status is 409 `not_resumable`."""
    actor = actor_of(request)
    job = job_services.job_resume(actor=actor, job=job_selectors.job_get(job_id, actor=actor))
    return Status(200, job_out(job, actor))
