"""What a webhook event's `data` holds: the object the event is about, as
the API returns it (`UserOut`, `InvitationOut`, `RoleOut`,
`OrganizationOut`; a membership is the organization and the user), taken
in the writing transaction, so it is the object as the change left it.

The API's own serialisers are used, so a receiver sees exactly what a GET
would answer; none of them carries a secret, token or password field, and
`scrub` runs over the result once more as a second line. This module is
wired to the delivery service at start-up (`webhooks.apps`), which keeps
the service layer free of entry-point imports.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from ninja.responses import NinjaJSONEncoder

from accounts.api.common import user_out, users_out
from accounts.api.invitations import invitation_out
from accounts.api.schemas import InvitationOut, UserOut
from accounts.models import Invitation, User
from audit.services.record import scrub
from rbac.api import RoleOut
from rbac.api.organizations import OrganizationOut, organization_out
from rbac.models import Organization
from rbac.selectors import role_list
from webhooks.catalogue import MEMBERSHIP_EVENTS


def _as_api(schema, value) -> dict:
    """`value` through the API's schema and JSON encoder, as a GET answers."""
    return json.loads(json.dumps(schema.model_validate(value).model_dump(), cls=NinjaJSONEncoder))


def _user(pk, known=None):
    """The user `pk` as the API shows it; `known`: what `_users` read for
    the events' users at once ({pk: data}; None: read this one)."""
    if known is not None:
        return known.get(User._meta.pk.to_python(pk))
    user = User.objects.filter(pk=pk).first()
    return _as_api(UserOut, user_out(user)) if user else None


def _users(events) -> dict | None:
    """The users that `events` are about, as the API shows them, in six
    queries whatever their number ({pk: data}): a batch's thousand
    events would otherwise read five times per user. None for one event."""
    pks = set()
    for event in events:
        if event.target_type == "user" and event.target_id:
            try:
                pks.add(User._meta.pk.to_python(event.target_id))
            except ValidationError:
                continue  # not a user's id: `_gone` names it
    if len(pks) < 2:
        return None
    users = User.objects.filter(pk__in=pks)
    return {out["id"]: _as_api(UserOut, out) for out in users_out(users)}


def _invitation(pk):
    inv = Invitation.objects.filter(pk=pk).prefetch_related("roles").first()
    return _as_api(InvitationOut, invitation_out(inv)) if inv else None


def _role(pk):
    role = role_list().filter(pk=pk).first()
    return _as_api(RoleOut, role) if role else None


def _organization_by(**lookup):
    org = Organization.objects.filter(**lookup).first()
    return _as_api(OrganizationOut, organization_out(org)) if org else None


def _organization(pk):
    return _organization_by(pk=pk)


_BY_TYPE = {"user": _user, "invitation": _invitation, "role": _role, "organization": _organization}


def _gone(event) -> dict:
    """An object that no longer exists (erased, deleted): its type, id and
    label, and the slug a deleted organization had."""
    data = {"id": event.target_id, "label": event.target_label, "deleted": True}
    slug = _changed_slug(event.changes, "slug")
    if event.target_type == "organization" and slug:
        data["slug"] = slug
    return data


def _changed_slug(changes, key: str) -> str | None:
    """The value a change names for `key`: `[before, after]` -> the one set."""
    value = (changes or {}).get(key)
    if isinstance(value, list | tuple):
        return next((v for v in reversed(value) if isinstance(v, str) and v), None)
    return value if isinstance(value, str) and value else None


def _membership(event, users=None) -> dict | None:
    """A membership event's data, or None when the event names no
    organization (a global role)."""
    slug = _changed_slug(event.changes, "organization")
    if event.target_type != "user" or not slug:
        return None
    organization = _organization_by(slug=slug) or {"slug": slug, "deleted": True}
    user = _user(event.target_id, users) or _gone(event)
    return {"organization": organization, "user": user}


def events_data(events) -> dict:
    """`event_data` of each of `events`, as {event pk: data}; the users
    they are about read together."""
    users = _users(events)
    return {event.pk: event_data(event, users=users) for event in events}


def event_data(event, *, users=None) -> dict:
    """The `data` of the webhook event for one audit event. An object that
    no longer exists (erased, a role deleted) is named by type, id and label.
    `users`: what `_users` read for a list of events."""
    if event.action in MEMBERSHIP_EVENTS:
        data = _membership(event, users)
        if data is not None:
            data = scrub(data)
            data["object"] = "membership"
            return data
    build = _BY_TYPE.get(event.target_type)
    data = None
    if build is not None and event.target_id:
        try:
            data = _user(event.target_id, users) if build is _user else build(event.target_id)
        except (ValueError, TypeError, ValidationError):
            data = None
    if data is None:
        data = _gone(event)
    data = scrub(data)
    data["object"] = event.target_type or "unknown"
    return data
