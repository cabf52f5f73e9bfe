"""Reads about background jobs (batch actions and invitation imports) with
their reach: the jobs page and `GET /api/admin/jobs` list the same jobs, and
a job someone may not see does not exist for them (`NotFound`, 404)."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import BatchJob
from core.services import NotFound
from rbac import policies
from rbac.actor import as_actor

JOB_GONE = "This job does not exist."
LIST_LIMIT = 100


def _within_reach(qs, actor):
    # Jobs of people in the actor's reach (or of nobody any more).
    return qs.filter(Q(actor__isnull=True) | Q(actor__in=actor.visible_users()))


def job_get(pk, *, actor) -> BatchJob:
    """The job `pk` if `actor` may see it (`policies.user_can_view_job`);
    `NotFound` otherwise, missing or not."""
    actor = as_actor(actor)
    job = _within_reach(BatchJob.objects.filter(pk=pk), actor).select_related("actor").first()
    if job is None or not policies.user_can_view_job(actor, job):
        raise NotFound(JOB_GONE)
    return job


def job_list(*, actor, limit: int = LIST_LIMIT) -> list[BatchJob]:
    """The newest jobs `actor` may see, newest first. A prefilter in SQL
    (their own, or needing a permission they hold); the rule itself is the
    policy predicate."""
    actor = as_actor(actor)
    candidates = _within_reach(
        BatchJob.objects.filter(
            Q(actor_id=actor.pk) | Q(permission__in=sorted(policies.permissions_of(actor)))
        ),
        actor,
    ).select_related("actor")
    return [
        j
        for j in candidates.order_by("-created_at")[:limit]
        if policies.user_can_view_job(actor, j)
    ]
