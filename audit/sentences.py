"""Audit events as sentences people read ("Ada banned Bob until 28 Nov:
spam"), for the activity lists: the overview, a user's page and the audit
log. The dotted code (`accounts.user.banned`) stays on the event's own page
and in the filters, where people look for exactly that.

`with_names(events)` fills in display names for a page of events with one
query; `sentence(event, link=...)` renders one event as safe HTML.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from audit.services import clean_label

# action -> (what was done, what was tried when refused). {actor} and
# {target} are filled in; {until} only for bans.
SENTENCES: dict[str, tuple[str, str]] = {
    "accounts.user.created": ("{actor} created {target}", "{actor} tried to create {target}"),
    "accounts.user.banned": ("{actor} banned {target}{until}", "{actor} tried to ban {target}"),
    "accounts.user.unbanned": ("{actor} unbanned {target}", "{actor} tried to unban {target}"),
    "accounts.user.disabled": ("{actor} disabled {target}", "{actor} tried to disable {target}"),
    "accounts.user.enabled": ("{actor} enabled {target}", "{actor} tried to enable {target}"),
    "accounts.user.deleted": ("{actor} deleted {target}", "{actor} tried to delete {target}"),
    "accounts.user.restored": ("{actor} restored {target}", "{actor} tried to restore {target}"),
    "accounts.user.erased": (
        "{actor} deleted {target} permanently",
        "{actor} tried to delete {target} permanently",
    ),
    "accounts.user.updated": (
        "{actor} edited the profile of {target}",
        "{actor} tried to edit the profile of {target}",
    ),
    "accounts.user.viewed": ("{actor} viewed {target}", "{actor} tried to view {target}"),
    "accounts.user.listed": ("{actor} looked through the users", "{actor} tried to list users"),
    "accounts.user.data_exported": (
        "{actor} exported the personal data of {target}",
        "{actor} tried to export the personal data of {target}",
    ),
    "accounts.users.exported": ("{actor} exported users as CSV", "{actor} tried to export users"),
    "accounts.user.password_change_forced": (
        "{actor} asked {target} to choose a new password",
        "{actor} tried to force a password change on {target}",
    ),
    "accounts.owner.bootstrapped": ("{target} became the owner", "Making {target} owner failed"),
    "accounts.login.succeeded": ("{actor} signed in", "{actor} could not sign in"),
    "accounts.login.failed": ("Failed sign-in as {target}", "Failed sign-in as {target}"),
    "accounts.login.locked_out": (
        "{target} was locked out after too many failed sign-ins",
        "{target} was locked out after too many failed sign-ins",
    ),
    "accounts.session.revoked": (
        "{actor} ended a session of {target}",
        "{actor} tried to end a session of {target}",
    ),
    "accounts.session.revoked_all": (
        "{actor} ended every session of {target}",
        "{actor} tried to end the sessions of {target}",
    ),
    "accounts.invitation.created": ("{actor} invited {target}", "{actor} tried to invite {target}"),
    "accounts.invitation.resent": (
        "{actor} sent the invitation to {target} again",
        "{actor} tried to resend the invitation to {target}",
    ),
    "accounts.invitation.revoked": (
        "{actor} revoked the invitation to {target}",
        "{actor} tried to revoke the invitation to {target}",
    ),
    "accounts.invitation.accepted": (
        "{target} accepted the invitation",
        "{target} could not accept the invitation",
    ),
    "accounts.password.changed": (
        "{actor} changed their password",
        "{actor} tried to change their password",
    ),
    "accounts.password.set_by_admin": (
        "{actor} set a new password for {target}",
        "{actor} tried to set a password for {target}",
    ),
    "accounts.password.reset_link_created": (
        "{actor} created a password reset link for {target}",
        "{actor} tried to create a reset link for {target}",
    ),
    "accounts.password.reset_requested": (
        "{target} asked for a password reset",
        "{target} asked for a password reset",
    ),
    "accounts.password.reset_completed": (
        "{target} chose a new password",
        "{target} could not reset their password",
    ),
    "accounts.magic_link.sent": (
        "{actor} sent a sign-in link to {target}",
        "{actor} tried to send a sign-in link to {target}",
    ),
    "accounts.magic_link.used": ("{target} signed in with a link", "A sign-in link was refused"),
    "accounts.mfa.enrolled": (
        "{actor} turned on two-factor authentication",
        "{actor} could not turn on two-factor authentication",
    ),
    "accounts.mfa.removed": (
        "{actor} removed an authenticator of {target}",
        "{actor} tried to remove an authenticator of {target}",
    ),
    "accounts.email.changed": (
        "{actor} changed the email of {target}",
        "{actor} tried to change the email of {target}",
    ),
    "accounts.email.verified": ("{target} verified their email", "Email verification failed"),
    "accounts.api_key.created": (
        "{actor} created the API key {target}",
        "{actor} tried to create an API key",
    ),
    "accounts.api_key.revoked": (
        "{actor} revoked the API key {target}",
        "{actor} tried to revoke the API key {target}",
    ),
    "rbac.role.created": ("{actor} created the role {target}", "{actor} tried to create a role"),
    "rbac.role.updated": (
        "{actor} changed the role {target}",
        "{actor} tried to change the role {target}",
    ),
    "rbac.role.deleted": (
        "{actor} deleted the role {target}",
        "{actor} tried to delete the role {target}",
    ),
    "rbac.role.assigned": (
        "{actor} gave {target} a role",
        "{actor} tried to give {target} a role",
    ),
    "rbac.role.removed": (
        "{actor} took a role from {target}",
        "{actor} tried to take a role from {target}",
    ),
    "rbac.user.permissions_updated": (
        "{actor} changed the direct permissions of {target}",
        "{actor} tried to change the permissions of {target}",
    ),
    "rbac.ownership.transferred": (
        "{actor} handed ownership to {target}",
        "{actor} tried to hand ownership to {target}",
    ),
    "rbac.page.denied": ("{actor} was refused a page", "{actor} was refused a page"),
}


def with_names(events):
    """Set `actor_name` / `target_name` on each event: the user's name when
    the actor or target is a user who has one, else the recorded label."""

    events = list(events)
    ids = {e.actor_id for e in events if e.actor_id}
    ids |= {e.target_id for e in events if e.target_type == "user" and e.target_id}
    names = {}
    if ids:
        valid = [value for value in map(_user_id, ids) if value is not None]
        # Names are shown as typed, but never with a control character (a
        # terminal escape in a name must not reach the page raw).
        names = {
            str(pk): clean_label(name)
            for pk, name in User.objects.filter(pk__in=valid)
            .exclude(name="")
            .values_list("pk", "name")
        }
    for event in events:
        event.actor_name = names.get(str(event.actor_id)) or event.actor_label or "System"
        if event.target_type == "user":
            event.target_name = names.get(event.target_id) or event.target_label
        else:
            event.target_name = event.target_label or event.target_id
    return events


def _user_id(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:  # a target id that is not a user id
        return None


def short_date(value: dt.datetime) -> str:
    """ "28 Nov" this year, "28 Nov 2027" otherwise."""
    local = timezone.localtime(value)
    if local.year == timezone.localtime().year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def _until(event) -> str:
    change = (event.changes or {}).get("banned_until")
    if not isinstance(change, list | tuple) or len(change) != 2:
        return ""
    new = change[1]
    if not new:
        return ""
    when = parse_datetime(str(new))
    if when is None:
        return ""
    if when.year >= timezone.now().year + 50:  # how a permanent ban is stored
        return " permanently"
    return f" until {short_date(when)}"


def _person(name: str, param: str, value, link: bool):
    if link and value:
        return format_html('<a href="?{}">{}</a>', urlencode({param: value}), name)
    return format_html("{}", name)


def sentence(event, *, link: bool = False) -> SafeString:
    """The event as one sentence; with `link`, the actor and target are
    links that filter the audit log by them."""
    actor_name = getattr(event, "actor_name", None) or event.actor_label or "System"
    target_name = getattr(event, "target_name", None) or event.target_label or event.target_id
    actor = _person(actor_name, "actor", event.actor_id, link)
    target = _person(target_name or "someone", "target", event.target_id, link)
    done, tried = SENTENCES.get(event.action, (None, None))
    if done is None:
        # An action without a sentence yet: its last word, said plainly.
        resource, _, verb = event.action.rpartition(".")
        thing = resource.rpartition(".")[2].replace("_", " ")
        words = f"{verb.replace('_', ' ')} ({thing})"
        done = "{actor}: " + words + (" · {target}" if target_name else "")
        tried = done + " (refused)"
    text = done if event.outcome == "success" else tried
    html = text.format(actor=actor, target=target, until=_until(event) if "{until}" in text else "")
    if event.reason:
        html = format_html("{}: {}", mark_safe(html), event.reason)
    return mark_safe(html)
