"""Named guards for background jobs (batch actions, invitation imports):
who may see, cancel and resume one, and who may read its per-item results."""

from __future__ import annotations

from audit import events
from rbac.policies.base import PolicyDenied, _is_active_actor, user_can_manage_user, user_has

# What a job's per-item results list, and the permission reading that list
# needs anywhere else: a batch lists users, an import lists invitations.
RESULTS_PERMISSION = {"batch": "users:read", "import": "invitations:read"}


def _is_creator(actor, job) -> bool:
    return job.actor_id is not None and job.actor_id == getattr(actor, "pk", None)


def _creator_in_reach(actor, job) -> bool:
    """Acting on someone's job acts on them: your own job, or one whose
    creator you manage (strict hierarchy; the owner manages everyone, and
    alone acts on a job whose creator is gone)."""
    if _is_creator(actor, job):
        return True
    if job.actor_id is None:
        return bool(getattr(actor, "is_owner", False))
    return user_can_manage_user(actor, job.actor)


def user_can_view_job(actor, job) -> bool:
    """A job (its row on the jobs page and its progress) is visible to its
    creator and to whoever could run the same job: holds the permission it
    needs (`job.permission`). A job with no recorded permission is its
    creator's only (fail closed). Its per-item results need more:
    `user_can_read_job_results`."""
    if not _is_active_actor(actor):
        return False
    if _is_creator(actor, job):
        return True
    return bool(job.permission) and user_has(actor, job.permission)


def user_can_read_job_results(actor, job) -> bool:
    """The per-item results list users or invitations: reading them needs
    the permission that reading those lists needs (`RESULTS_PERMISSION`),
    on top of seeing the job. Its creator reads their own job's outcomes
    (the same lines an inline run shows them)."""
    if not user_can_view_job(actor, job):
        return False
    if _is_creator(actor, job):
        return True
    permission = RESULTS_PERMISSION.get(job.kind)
    return bool(permission) and user_has(actor, permission)


def user_can_cancel_job(actor, job) -> bool:
    """Stopping a job changes nothing more than it has done, but it acts on
    the person who started it: whoever sees it and manages its creator."""
    return user_can_view_job(actor, job) and _creator_in_reach(actor, job)


def user_can_resume_job(actor, job) -> bool:
    """A resumed job runs again with its creator's authority, so only its
    creator may resume it, and only while they could still run it."""
    return (
        _is_active_actor(actor)
        and _is_creator(actor, job)
        and bool(job.permission)
        and user_has(actor, job.permission)
    )


def check_can_view_job(actor, job, *, action: str = events.JOB_VIEWED) -> None:
    """Someone who may not see a job is told it does not exist."""
    if not user_can_view_job(actor, job):
        raise PolicyDenied(
            "not_found", "This job does not exist.", action=action, actor=actor, target=job
        )


def check_can_read_job_results(actor, job, *, action: str = events.JOB_VIEWED) -> None:
    check_can_view_job(actor, job, action=action)
    if not user_can_read_job_results(actor, job):
        permission = RESULTS_PERMISSION.get(job.kind, "")
        raise PolicyDenied(
            "permission_denied",
            f"You need the permission {permission or 'to read them'} to see this job's results.",
            action=action,
            actor=actor,
            target=job,
            missing=[permission] if permission else [],
        )


def check_can_cancel_job(actor, job, *, action: str) -> None:
    check_can_view_job(actor, job, action=action)
    if not _creator_in_reach(actor, job):
        raise PolicyDenied(
            "hierarchy",
            "You can only stop your own jobs and those of people you manage (whose "
            "permissions you also hold, and more); this job was started by someone else.",
            action=action,
            actor=actor,
            target=job,
        )


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
