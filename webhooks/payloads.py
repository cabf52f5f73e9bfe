"""What a webhook event's `data` holds: the object the event is about, as
the API returns it (`UserOut`, `InvitationOut`, `RoleOut`), taken in the
writing transaction, so it is the object as the change left it.

The API's own serialisers are used, so a receiver sees exactly what a GET
would answer; none of them carries a secret, token or password field, and
`scrub` runs over the result once more as a second line. This module is
wired to the delivery service at start-up (`webhooks.apps`), which keeps
the service layer free of entry-point imports.
"""

from __future__ import annotations

import json

from ninja.responses import NinjaJSONEncoder

from accounts.api.common import user_out
from accounts.api.invitations import invitation_out
from accounts.api.schemas import InvitationOut, UserOut
from accounts.models import Invitation, User
from audit.services.record import scrub
from rbac.api import RoleOut
from rbac.selectors import role_list


def _as_api(schema, value) -> dict:
    """`value` through the API's schema and JSON encoder, as a GET answers."""
    return json.loads(json.dumps(schema.model_validate(value).model_dump(), cls=NinjaJSONEncoder))


def _user(pk):
    user = User.objects.filter(pk=pk).first()
    return _as_api(UserOut, user_out(user)) if user else None


def _invitation(pk):
    inv = Invitation.objects.filter(pk=pk).prefetch_related("roles").first()
    return _as_api(InvitationOut, invitation_out(inv)) if inv else None


def _role(pk):
    role = role_list().filter(pk=pk).first()
    return _as_api(RoleOut, role) if role else None


_BY_TYPE = {"user": _user, "invitation": _invitation, "role": _role}


def event_data(event) -> dict:
    """The `data` of the webhook event for one audit event. An object that
    no longer exists (erased, a role deleted) is named by type, id and label."""
    build = _BY_TYPE.get(event.target_type)
    data = None
    if build is not None and event.target_id:
        try:
            data = build(event.target_id)
        except (ValueError, TypeError):
            data = None
    if data is None:
        data = {"id": event.target_id, "label": event.target_label, "deleted": True}
    data = scrub(data)
    data["object"] = event.target_type or "unknown"
    return data
