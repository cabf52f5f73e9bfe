"""`/api/admin/users/{id}/roles...`: a user's roles, through the services
and guards of the user access page (`user_role_assign`, `user_role_remove`:
roles:assign, not yourself, not the owner, hierarchy, escalation,
last-manager)."""

from __future__ import annotations

import uuid

from ninja import Router, Status

from accounts.api.common import actor_of, get_user, user_out
from accounts.api.schemas import RoleAssignIn, UserOut
from accounts.models import User
from core.api_errors import ApiError, responses
from rbac.models import Role
from rbac.services import user_role_assign, user_role_remove

router = Router(tags=["users"])


def _role(slug: str) -> Role:
    """The role by its slug, named in the body or the path; 404 when there
    is none."""
    role = Role.objects.filter(slug=slug).first()
    if role is None:
        raise ApiError(404, "not_found", "This role does not exist.")
    return role


@router.post(
    "/{uuid:user_id}/roles", response=responses(200, UserOut), summary="Assign a role to a user"
)
def assign_role(request, user_id: uuid.UUID, payload: RoleAssignIn):
    """Give the user the role (nothing changes when they hold it already)."""
    user = get_user(request, user_id)
    user_role_assign(actor=actor_of(request), user=user, role=_role(payload.role))
    return Status(200, user_out(User.objects.get(pk=user.pk)))


@router.delete(
    "/{uuid:user_id}/roles/{slug:role}",
    response=responses(200, UserOut),
    summary="Remove a role from a user",
)
def remove_role(request, user_id: uuid.UUID, role: str):
    """Take the role away (nothing changes when they do not hold it)."""
    user = get_user(request, user_id)
    user_role_remove(actor=actor_of(request), user=user, role=_role(role))
    return Status(200, user_out(User.objects.get(pk=user.pk)))
