"""The users list's rows, ready to print.

A row's values are worked out here once, in Python, and the list template
prints them with one lookup each: the template engine charges for every
variable, filter and `{% url %}`, and the rows were most of the page's
rendering (issue 29: ~40 lookups a row, a `reverse()` per offered action).
What the page may offer in each row is still each action's own guard
(`policies.allows`), asked with the page's permissions and organizations
read at once (`actor.knowing(...)`), so the guards run no query per row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts import selectors
from accounts.templatetags.addresses import address
from accounts.templatetags.dates import day, when
from accounts.templatetags.people import avatar_tone, initials
from accounts.views.user_actions import PAGE_ACTIONS, offered
from rbac.selectors import prime_organizations, prime_permissions

_PLACEHOLDER = uuid.UUID(int=0)


@dataclass(frozen=True)
class RowAction:
    url: str
    label: str


@dataclass(frozen=True)
class UserRow:
    pk: uuid.UUID
    email: str
    name: str
    detail_url: str
    email_html: SafeString  # the address as people read it (`address`)
    initials: str
    tone: int
    is_owner: bool
    status: str
    status_label: str
    status_notes: SafeString  # ban end, password change, sign-in lock
    roles: tuple[str, ...]
    organizations: tuple[tuple[str, str], ...]  # (slug, name)
    has_mfa: bool
    last_login: SafeString  # "" for never
    created: SafeString
    actions: tuple[RowAction, ...]


def _url_maker(name: str):
    """`reverse(name, args=[pk])` for many pks from one `reverse`."""
    head, tail = reverse(name, args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    return lambda pk: f"{head}{pk}{tail}"


def _status_notes(user, status: str, lock) -> SafeString:
    notes = []
    if status == "banned":
        until = (
            "permanently"
            if user.is_banned_permanently
            else format_html("until {}", when(user.banned_until, "absolute"))
        )
        notes.append(
            format_html(' <span class="small text-body-secondary d-inline-block">{}</span>', until)
        )
    if user.must_change_password and status != "deleted":
        notes.append(
            mark_safe(  # noqa: S308 (constant markup)
                ' <span class="badge text-bg-light border" title="Must choose a new password '
                'at next sign-in">Password change</span>'
            )
        )
    if getattr(user, "deletion_due_at", None) and status != "deleted":
        notes.append(
            format_html(
                ' <span class="badge text-bg-danger" title="The user asked for their account to '
                'be deleted; they can cancel until then">Deletion due {}</span>',
                when(user.deletion_due_at, "absolute"),
            )
        )
    if lock is not None:
        where = ""
        if lock.per_address:
            n = len(lock.addresses)
            where = f" for {n} address{'' if n == 1 else 'es'}"
        notes.append(
            format_html(
                ' <span class="badge text-bg-warning">Locked{} until {}</span>',
                where,
                when(lock.until, "absolute"),
            )
        )
    return mark_safe("".join(notes))  # noqa: S308 (each part built by format_html)


def user_rows(actor, users) -> list[UserRow]:
    """The rows for one page of users (roles and organizations prefetched,
    `has_mfa` read by the selector): the sign-in locks in one query, the
    guards over the page's users with their permissions and organizations
    read at once."""
    locks = selectors.user_locks(users)
    # Grants held inside organizations: each guard asks which organizations
    # the row's user belongs to, so read them for the page at once too.
    organizations = prime_organizations(users) if actor.organization_ids else None
    known = actor.knowing(prime_permissions(users, organizations), organizations)
    primary = [a for a in PAGE_ACTIONS.values() if a.menu == "primary"]
    action_urls = {a.name: _url_maker(f"users:{a.name}") for a in primary}
    detail_url = _url_maker("users:detail")
    locked = {pk for pk in locks}

    def facts_for(action):  # the page's locks, read in one query
        return {"locked": locked} if action.name == "unlock" else None

    found = offered(known, users, facts_for, menu="primary")
    rows = []
    for user in users:
        status = user.status
        lock = locks.get(user.pk)
        actions = [RowAction(action_urls[o.name](user.pk), o.button) for o in found[user.pk]]
        email = user.email or ""
        rows.append(
            UserRow(
                pk=user.pk,
                email=email,
                name=user.name,
                detail_url=detail_url(user.pk),
                email_html=address(email),
                initials=initials(user),
                tone=avatar_tone(user),
                is_owner=user.is_owner,
                status=status,
                status_label=user.get_status_display(),
                status_notes=_status_notes(user, status, lock),
                roles=tuple(r.name for r in user.roles.all()),
                organizations=tuple((o.slug, o.name) for o in user.organizations.all()),
                has_mfa=getattr(user, "has_mfa", False),
                last_login=when(user.last_login) if user.last_login else "",
                created=day(user.created_at),
                actions=tuple(actions),
            )
        )
    return rows
