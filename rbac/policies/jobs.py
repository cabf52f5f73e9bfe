"""Named guards for background jobs (batch actions, invitation imports):
who may see, cancel and resume one."""

from __future__ import annotations

from rbac.policies.base import PolicyDenied, _is_active_actor, user_has


def user_can_view_job(actor, job) -> bool:
    """A job (its page, progress and per-user outcomes) is visible to its
    creator and to whoever could run the same job: holds the permission it
    needs (`job.permission`). A job with no recorded permission is its
    creator's only (fail closed)."""
    if not _is_active_actor(actor):
        return False
    if job.actor_id is not None and job.actor_id == actor.pk:
        return True
    return bool(job.permission) and user_has(actor, job.permission)


def user_can_cancel_job(actor, job) -> bool:
    """Stopping a job changes nothing more than it has done: whoever may see
    it may stop it."""
    return user_can_view_job(actor, job)


def user_can_resume_job(actor, job) -> bool:
    """A resumed job runs again with its creator's authority, so only its
    creator may resume it, and only while they could still run it."""
    return (
        _is_active_actor(actor)
        and job.actor_id is not None
        and job.actor_id == actor.pk
        and bool(job.permission)
        and user_has(actor, job.permission)
    )


def check_can_view_job(actor, job, *, action: str = "accounts.job.viewed") -> None:
    """Someone who may not see a job is told it does not exist."""
    if not user_can_view_job(actor, job):
        raise PolicyDenied(
            "not_found", "This job does not exist.", action=action, actor=actor, target=job
        )


def check_can_cancel_job(actor, job, *, action: str) -> None:
    check_can_view_job(actor, job, action=action)


def check_can_resume_job(actor, job, *, action: str) -> None:
    check_can_view_job(actor, job, action=action)
    if not user_can_resume_job(actor, job):
        raise PolicyDenied(
            "not_job_creator",
            "Only the person who started this job can resume it (it runs with their "
            "permissions), and only while they hold %s." % (job.permission or "its permission"),
            action=action,
            actor=actor,
            target=job,
        )
