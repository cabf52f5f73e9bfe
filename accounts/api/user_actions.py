"""The API's doors to the declared actions on a user
(`accounts.services.actions`): one route per declaration, and the batch's
body, each with a schema made from the declaration's parameters."""

import uuid
from datetime import datetime, timedelta
from typing import Literal

from django.utils import timezone
from ninja import Status
from pydantic import Field, create_model

from accounts.api.common import actor_of, get_user, user_out
from accounts.api.schemas import MAX_BATCH, MagicLinkOut, ResetTokenOut, Strict, UserOut
from accounts.models import User
from accounts.services import actions as declared
from core.api_errors import ERRORS, responses
from rbac import policies

HOURS_MAX = 24 * 365 * 100


def _fields(param, *, optional: bool = False) -> dict:
    """The API fields of one parameter (a ban's end: `until` or
    `duration_hours`)."""
    if param.kind == declared.BAN_END:
        return {
            "until": (datetime | None, None),
            "duration_hours": (int | None, Field(None, ge=1, le=HOURS_MAX)),
        }
    if param.kind == declared.FLAG:
        return {param.name: (bool, bool(param.default))}
    if param.kind == declared.CHOICE:
        kind = Literal[tuple(c for c, _ in param.choices)]  # type: ignore[misc]
        return {param.name: (kind, param.default)}
    limit = 50 if param.kind == declared.ROLE else param.max_length
    if param.required and not optional:
        return {param.name: (str, Field(..., min_length=1, max_length=limit))}
    kind = str | None if param.kind == declared.ROLE else str
    default = None if param.kind == declared.ROLE else ""
    return {param.name: (kind, Field(default, max_length=limit))}


def _password_field(*, optional: bool = False) -> dict:
    default = None if optional else ...
    return {"current_password": (str | None if optional else str, Field(default, max_length=1024))}


def _values(action, body: dict) -> dict:
    """A request body as the declaration's parameter values."""
    values = dict(body)
    for param in action.params:
        if param.kind == declared.BAN_END:
            hours = values.pop("duration_hours", None)
            if hours:
                values[param.name] = timezone.now() + timedelta(hours=hours)
    return values


def action_schema(action):
    fields = {}
    for param in action.params:
        fields.update(_fields(param))
    if action.reauth:
        fields.update(_password_field())
    name = "".join(part.capitalize() for part in action.name.split("-")) + "In"
    return create_model(name, __base__=Strict, **fields)


def batch_schema():
    """The batch body: the ids, and every batchable action's parameters
    (each optional here: the declaration says which one needs what)."""
    fields = {
        "user_ids": (list[str], Field(..., max_length=MAX_BATCH)),
        "dry_run": (bool, False),
    }
    for action in declared.batch_actions().values():
        for param in action.params:
            if not param.per_user:
                fields.update(_fields(param, optional=True))
        if action.reauth:
            fields.update(_password_field(optional=True))
    return create_model("BatchIn", __base__=Strict, **fields)


def _answer(action, result, user_id):
    door = action.api
    if door.answer == "none":
        return Status(door.status, None)
    if door.answer == "reset-token":
        return Status(door.status, result)
    if door.answer == "magic-link":
        return Status(door.status, {"success": True, "type": result[1], "magic_link": result[0]})
    return Status(door.status, user_out(User.objects.get(pk=user_id)))


OUT = {"user": UserOut, "reset-token": ResetTokenOut, "magic-link": MagicLinkOut}


def _route(router, action):
    door = action.api
    path = door.path if door.path is not None else action.name
    url = "/{uuid:user_id}" + (f"/{path}" if path else "")
    schema = action_schema(action)
    optional = not any(f.is_required() for f in schema.model_fields.values())
    response = (
        {door.status: None, **ERRORS}
        if door.answer == "none"
        else responses(door.status, OUT[door.answer])
    )

    def handler(request, user_id: uuid.UUID, payload: schema | None = None):  # type: ignore[valid-type]
        actor = actor_of(request)
        # A deleted user is still found by an action, as on the page: the
        # guard answers first, then the state ("restore them first").
        user = get_user(request, user_id, include_deleted=True)
        body = payload.model_dump(exclude_unset=True) if payload is not None else {}
        password = body.pop("current_password", None)
        if action.reauth:
            # Like the page, which asks for a fresh sign-in first, the key's
            # user proves they are there: their current password.
            policies.check_fresh_proof(actor, action=action.event, target=user, password=password)
        kwargs = action.load(action.clean(_values(action, body)))
        result = action.service(actor=actor, user=user, **kwargs)
        if door.answer == "magic-link":
            result = (result, kwargs.get("type"))
        return _answer(action, result, user_id)

    if not optional:
        # A required field: the body is required too.
        def required(request, user_id: uuid.UUID, payload: schema):  # type: ignore[valid-type]
            return handler(request, user_id, payload)

        view = required
    else:
        view = handler
    view.__doc__ = action.description or None
    getattr(router, door.method)(
        url,
        response=response,
        summary=action.title,
        operation_id=f"user_{action.key}",
    )(view)


def add_action_routes(router) -> None:
    """One route per declared action with an API door."""
    for action in declared.USER_ACTIONS.values():
        if action.api is not None:
            _route(router, action)
