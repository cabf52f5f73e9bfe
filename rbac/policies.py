"""Guards. Services call these before they change anything, so every entry
point -- page, fragment, API, Django admin, task, command -- obeys them.

Predicates (`user_can_*`) answer yes/no for templates that hide what the
user cannot do; `check_*` functions raise `PolicyDenied` with a code and a
sentence people can read. Anything unknown is denied (fail closed).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from rbac.permissions import CATALOG, ROLE_MANAGER_PERMISSION
from rbac.selectors import user_effective_permissions


class PolicyDenied(PermissionDenied):
    """A guard refused. `code` is stable for API clients; `message` is for
    people; `missing` lists permissions the actor lacks, when that is why."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str = "",
        actor=None,
        target=None,
        missing=(),
        batch_id=None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.actor = actor
        self.target = target
        self.missing = sorted(missing)
        self.batch_id = batch_id
        self.recorded = False

    def __str__(self):
        return self.message

    def record(self) -> None:
        from audit import services as audit

        self.recorded = True
        audit.record(
            self.action or "rbac.denied",
            actor=self.actor,
            target=self.target,
            outcome="denied",
            reason=f"{self.code}: {self.message}",
            changes={"missing": self.missing} if self.missing else {},
            batch_id=self.batch_id,
        )


def permissions_of(user) -> frozenset[str]:
    return user_effective_permissions(user)


def missing_permissions(actor, wanted) -> set[str]:
    """Permissions in `wanted` that `actor` does not hold. Unknown strings
    are always missing: nobody holds a permission the catalog lacks."""
    held = permissions_of(actor) if actor is not None else frozenset()
    return {p for p in wanted if p not in held or p not in CATALOG}


def _is_active_actor(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active


# --- predicates -----------------------------------------------------------


def user_has(actor, permission: str) -> bool:
    return _is_active_actor(actor) and permission in permissions_of(actor)


def user_can_manage_user(actor, user) -> bool:
    """Hierarchy: the owner manages everyone else; anyone else manages only
    users whose effective permissions are a subset of their own."""
    if not _is_active_actor(actor) or user is None:
        return False
    if actor.pk == user.pk:
        return False
    if user.is_owner:
        return False
    if actor.is_owner:
        return True
    return permissions_of(user) <= permissions_of(actor)


def user_can_act_on(actor, user, permission: str) -> bool:
    return user_has(actor, permission) and user_can_manage_user(actor, user)


# --- guards -----------------------------------------------------------------


def check_permission(actor, permission: str, *, action: str, target=None) -> None:
    if permission not in CATALOG:
        raise PolicyDenied(
            "unknown_permission",
            f"No rule allows this action (unknown permission {permission}).",
            action=action,
            actor=actor,
            target=target,
        )
    if not _is_active_actor(actor):
        raise PolicyDenied(
            "not_authenticated",
            "You must be signed in with an active account.",
            action=action,
            actor=actor,
            target=target,
        )
    if permission not in permissions_of(actor):
        raise PolicyDenied(
            "permission_denied",
            f"You need the permission {permission} to do this.",
            action=action,
            actor=actor,
            target=target,
            missing=[permission],
        )


def check_escalation(actor, wanted, *, action: str, target=None) -> None:
    """Nobody grants, assigns, invites with or scopes a key to a permission
    they do not hold themselves."""
    missing = missing_permissions(actor, wanted)
    if missing:
        raise PolicyDenied(
            "escalation",
            "You cannot grant permissions you do not hold: %s." % ", ".join(sorted(missing)),
            action=action,
            actor=actor,
            target=target,
            missing=missing,
        )


def check_not_self(actor, user, *, action: str, verb: str) -> None:
    if actor is not None and user is not None and actor.pk == user.pk:
        raise PolicyDenied(
            "self_action",
            f"You cannot {verb} yourself.",
            action=action,
            actor=actor,
            target=user,
        )


def check_not_owner(actor, user, *, action: str, verb: str) -> None:
    if user is not None and user.is_owner:
        raise PolicyDenied(
            "owner_protected",
            f"The owner cannot be {verb}.",
            action=action,
            actor=actor,
            target=user,
        )


def check_hierarchy(actor, user, *, action: str) -> None:
    if actor is not None and actor.is_owner:
        return
    extra = permissions_of(user) - permissions_of(actor)
    if extra:
        raise PolicyDenied(
            "hierarchy",
            "You can only manage users whose permissions you also hold; "
            "this user also has: %s." % ", ".join(sorted(extra)),
            action=action,
            actor=actor,
            target=user,
            missing=extra,
        )


def check_user_action(actor, user, permission: str, *, action: str, verb: str, past: str) -> None:
    """The full guard for an action by `actor` on another `user`:
    permission, self-action, owner protection, hierarchy. `verb`/`past`
    word the refusal ("ban"/"banned")."""
    check_permission(actor, permission, action=action, target=user)
    check_not_self(actor, user, action=action, verb=verb)
    check_not_owner(actor, user, action=action, verb=past)
    check_hierarchy(actor, user, action=action)


def role_managers_remaining(*, exclude_user_ids=(), role_overrides=None) -> int:
    """How many active users besides the owner could still assign roles,
    leaving out `exclude_user_ids` and treating roles in `role_overrides`
    ({role_id: new_permissions}) as already changed."""
    from accounts.models import User, status_q
    from rbac.models import Role

    role_overrides = role_overrides or {}
    manager_role_ids = []
    for role_id, perms in Role.objects.values_list("id", "permissions"):
        perms = role_overrides.get(role_id, perms)
        if ROLE_MANAGER_PERMISSION in perms:
            manager_role_ids.append(role_id)
    active = User.objects.filter(status_q("active") | status_q("unverified")).filter(is_owner=False)
    if exclude_user_ids:
        active = active.exclude(pk__in=list(exclude_user_ids))
    via_role = active.filter(userrole__role_id__in=manager_role_ids).values("pk")
    via_grant = active.filter(direct_permissions__icontains=f'"{ROLE_MANAGER_PERMISSION}"').values(
        "pk"
    )
    # Two IN subqueries rather than UNION: SQLite refuses the model's default
    # ORDER BY inside a compound statement.
    from django.db.models import Q

    return User.objects.filter(Q(pk__in=via_role) | Q(pk__in=via_grant)).count()


def owner_is_active() -> bool:
    from accounts.models import User

    owner = User.objects.filter(is_owner=True).first()
    return owner is not None and owner.is_active


def check_last_manager(
    actor, *, action: str, target=None, exclude_user_ids=(), role_overrides=None
) -> None:
    """No change may leave nobody besides the owner able to assign roles when
    the owner cannot act."""
    if owner_is_active():
        return
    if role_managers_remaining(exclude_user_ids=exclude_user_ids, role_overrides=role_overrides):
        return
    raise PolicyDenied(
        "last_manager",
        "This change would leave nobody able to assign roles.",
        action=action,
        actor=actor,
        target=target,
    )


# --- background jobs (batch actions, invitation imports) --------------------


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
