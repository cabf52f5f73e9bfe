"""`/api/admin/users/batch/{action}`: one action over many users, through
the same batch service as the dashboard."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from ninja import Router, Status

from accounts.api.common import actor_of
from accounts.api.schemas import BatchIn, BatchOut
from accounts.services.batch import ACTIONS, batch_run
from core.api_errors import ApiError, responses

router = Router(tags=["batch"])


@router.post("/{action}", response=responses(200, BatchOut), summary="Batch action")
def batch(request, action: str, payload: BatchIn):
    action = action.replace("-", "_")
    if action not in ACTIONS:
        names = ", ".join(a.replace("_", "-") for a in ACTIONS)
        raise ApiError(404, "unknown_action", f"Unknown batch action. Use one of: {names}.")
    params = {"reason": payload.reason}
    if payload.role:
        params["role"] = payload.role
    if payload.duration_hours:
        params["until"] = (timezone.now() + timedelta(hours=payload.duration_hours)).isoformat()
    result = batch_run(
        actor=actor_of(request),
        action=action,
        user_ids=payload.user_ids,
        params=params,
        dry_run=payload.dry_run,
    )
    return Status(
        200,
        {
            "success": result["success"],
            "processed": result["processed"],
            "skipped": result["skipped"],
            "errors": result["errors"],
            "items": result["items"],
            "dry_run": payload.dry_run,
        },
    )
