"""`/api/admin/users/batch/{action}`: one declared action over many users,
through the same batch service as the dashboard -- inline up to
INLINE_LIMIT users, a durable job above (202, with the job's URL), as on
the page."""

from ninja import Router, Status

from accounts.api.common import actor_of
from accounts.api.schemas import BatchOut, JobQueuedOut
from accounts.api.user_actions import _values, batch_schema
from accounts.services import batch as batch_services
from accounts.services.actions import batch_actions
from core.api_errors import ApiError, responses

router = Router(tags=["batch"])

BatchIn = batch_schema()


@router.post(
    "/{action}",
    response={**responses(200, BatchOut), 202: JobQueuedOut},
    summary="Batch action",
)
def batch(request, action: str, payload: BatchIn):  # type: ignore[valid-type]
    """Run `action` (ban, unban, unlock, disable, enable,
    force-password-change, delete, restore, hard-delete, reset-password,
    magic-link, assign-role, remove-role, resend-verification,
    mark-verified) on `user_ids`. Above the inline limit the batch runs as
    a job: 202 with its id and URL (`GET /api/admin/jobs/{id}`)."""
    declaration = batch_actions().get(action.replace("-", "_"))
    if declaration is None:
        names = ", ".join(a.name for a in batch_actions().values())
        raise ApiError(404, "unknown_action", f"Unknown batch action. Use one of: {names}.")
    body = payload.model_dump(exclude_unset=True)
    ids = body.pop("user_ids")
    dry_run = body.pop("dry_run", False)
    password = body.pop("current_password", None)
    params = _values(declaration, body)
    if params.get("until") is not None:
        params["until"] = params["until"].isoformat()
    actor = actor_of(request)
    if not dry_run and len(set(ids)) > batch_services.INLINE_LIMIT:
        job = batch_services.batch_job_create(
            actor=actor,
            action=declaration.key,
            user_ids=ids,
            params=params,
            current_password=password,
        )
        url = f"/api/admin/jobs/{job.pk}"
        return Status(202, {"job_id": job.pk, "status": job.status, "total": job.total, "url": url})
    result = batch_services.batch_run(
        actor=actor,
        action=declaration.key,
        user_ids=ids,
        params=params,
        dry_run=dry_run,
        current_password=password,
    )
    return Status(
        200,
        {
            "success": result["success"],
            "processed": result["processed"],
            "skipped": result["skipped"],
            "errors": result["errors"],
            "items": result["items"],
            "dry_run": dry_run,
        },
    )
