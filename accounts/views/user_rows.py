"""The users list's rows, ready to print.

A row's values are worked out here once, in Python, and so is its markup:
each cell written with `format_html`, the way Django admin's change list
writes its cells (`items_for_result`). The template engine charges for
every variable, filter and tag, and the rows were most of the page's
rendering (issue 29: ~40 lookups a row, a `reverse()` per offered action;
then 9.5 of 14 ms of the page's templates with one lookup a value).
What the page may offer in each row is still each action's own guard
(`policies.allows`), asked with the page's permissions and organizations
read at once (`actor.knowing(...)`), so the guards run no query per row.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import OuterRef
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts import selectors
from accounts.models import User, UserStatus
from accounts.templatetags.addresses import address
from accounts.templatetags.dates import day, when
from accounts.templatetags.people import avatar_tone, initials
from accounts.views.user_actions import PAGE_ACTIONS, offered
from core.compiled import Reused
from core.widgets import escaped as _e
from rbac.reach import EVERYONE
from rbac.selectors import holdings_of, holdings_values

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
    selectable: bool  # a checkbox for the batch bar

    @functools.cached_property
    def html(self) -> SafeString:
        """The row's `<tr>` (`row_html`)."""
        return row_html(self)


def _url_maker(name: str):
    """`reverse(name, args=[pk])` for many pks from one `reverse`, itself
    reversed once per process and URLconf (seven a page: ~0.2 ms)."""
    head, tail = _url_parts(name, get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    return lambda pk: f"{head}{pk}{tail}"


@functools.cache
def _url_parts(name: str, prefix: str, urlconf, root_urlconf) -> tuple[str, str]:
    # The arguments past `name` are what `reverse`'s answer depends on.
    head, tail = reverse(name, args=[_PLACEHOLDER], urlconf=urlconf).split(str(_PLACEHOLDER))
    return head, tail


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


# Built once: making the EXISTS behind "MFA on" anew cost ~0.5 ms of ORM
# work a page (issue 29).
_USERS_WITH_MFA = User.objects.annotate(has_mfa=selectors.mfa_enabled_q())


def _page_holdings(pks, since):
    """The holdings query of a page of users (`rbac.selectors.
    holdings_values`), with MFA and whether they failed to sign in since
    `since` (the cool-off's start)."""
    tried = selectors.tried_since(OuterRef("email"), since)
    return holdings_values(_USERS_WITH_MFA.annotate(tried=tried).filter(pk__in=pks))


# Its SQL written by the ORM once per page size: building and compiling
# this query (five tables, three EXISTS) was ~0.7-0.9 ms of every page,
# more than PostgreSQL takes to run it (issue 29).
_page_holdings_rows = Reused(_page_holdings)


def user_rows(actor, users, *, visible_organizations, selectable: bool) -> list[UserRow]:
    """The rows for one page of users: the users' roles, memberships, MFA
    and whether they failed to sign in lately in one query
    (`_page_holdings`), the sign-in locks of those who did in another (none
    on most pages), for the guards over the page's users and for the
    Roles, Organizations, MFA and Status columns (Organizations names only
    `visible_organizations`, ids: the organizations the actor sees; None:
    asked for the page's own). `selectable`: the rows have a checkbox for
    the batch bar."""
    since = selectors.cooloff_start(timezone.now())
    held = _page_holdings_rows([u.pk for u in users], since) if users else []
    # The annotations, in the order `_page_holdings` makes them.
    holdings = holdings_of(users, held, names=("has_mfa", "tried"))
    tried = [u for u in users if holdings.annotations[u.pk]["tried"]]
    # Whether a lock is per address depends on the user's permissions:
    # read above, not again for each user with failed sign-ins.
    locks = selectors.user_locks(tried, permissions=holdings.permissions) if tried else {}
    if visible_organizations is None:  # which of the page's the actor sees
        visible_organizations = _seen_organizations(actor, holdings.slugs)
    known = actor.knowing(holdings.permissions, holdings.organizations)
    primary = [a for a in PAGE_ACTIONS.values() if a.menu == "primary"]
    action_urls = {a.name: _url_maker(f"users:{a.name}") for a in primary}
    detail_url = _url_maker("users:detail")
    locked = {pk for pk in locks}

    def facts_for(action):  # the page's locks, read in one query
        return {"locked": locked} if action.name == "unlock" else None

    found = offered(known, users, facts_for, menu="primary")
    tz = timezone.get_current_timezone()
    rows = []
    for user in users:
        pk = user.pk  # a property (and a hash) each time: read once a row
        status = user.status
        actions = [RowAction(action_urls[o.name](pk), o.button) for o in found[pk]]
        email = user.email or ""
        row = UserRow(
            selectable=selectable,
            pk=pk,
            email=email,
            name=user.name,
            detail_url=detail_url(pk),
            email_html=address(email),
            initials=initials(user),
            tone=avatar_tone(user),
            is_owner=user.is_owner,
            status=status,
            status_label=UserStatus(status).label,  # `get_status_display`, status read above
            status_notes=_status_notes(user, status, locks.get(pk)),
            roles=tuple(holdings.role_names[pk]),
            organizations=tuple(
                sorted(
                    (
                        (holdings.slugs[org_id], name)
                        for org_id, name in holdings.organizations[pk].items()
                        if org_id in visible_organizations
                    ),
                    key=lambda slug_name: slug_name[1],
                )
            ),  # fmt: skip
            has_mfa=holdings.annotations[pk]["has_mfa"],
            last_login=when(user.last_login) if user.last_login else "",
            created=day(user.created_at, tz),
            actions=tuple(actions),
        )
        rows.append(row)
    return rows


def _seen_organizations(actor, slugs) -> set:
    """Which of the page's organizations (`slugs`: id -> slug, as the
    holdings read them) `actor` sees: all of them for one who sees every
    organization, with no query (0.7 ms of a search page by the owner at a
    million users); else asked."""
    if not slugs:
        return set()
    if actor.organization_reach == EVERYONE:
        return set(slugs)
    seen = actor.visible_organizations().filter(pk__in=list(slugs))
    return set(seen.values_list("pk", flat=True))


# --- markup ----------------------------------------------------------------
# What `templates/users/list.html` printed for each row, cell by cell. Plain
# values go through `_e` (html.escape, as Django's `escape` does, without
# its lazy-string wrapper: it is called ~20 times a row); the parts built as
# markup (`email_html`, `status_notes`, the dates, the constants below) go
# in as they are.


_NONE = '<span class="text-body-secondary small">—</span>'
_OWNER = ' <span class="badge text-bg-warning">Owner</span>'
_MFA_ON = (
    '<span class="badge text-bg-success-subtle text-success-emphasis bg-success-subtle">On</span>'
)
_MFA_OFF = '<span class="text-body-secondary small">Off</span>'
_NEVER = '<span class="text-body-secondary">Never</span>'


def _check_cell(row: UserRow) -> str:
    return (
        f'<td class="col-check"><input type="checkbox" class="form-check-input" name="ids" '
        f'value="{row.pk}" aria-label="Select {_e(row.email)}"></td>'
    )


def _user_cell(row: UserRow) -> str:
    url, pk, email = _e(row.detail_url), row.pk, _e(row.email)
    if row.name:
        name = _e(row.name)
        link = f'<a class="fw-semibold text-decoration-none" href="{url}">{name}</a>'
        address = f'<span class="address" id="email-{pk}">{row.email_html}</span>'
    else:
        name = email
        link = (
            f'<a class="fw-semibold text-decoration-none address" href="{url}">{row.email_html}</a>'
        )
        address = f'<span class="visually-hidden" id="email-{pk}">{email}</span>'
    return (
        '<td class="user-cell"><div class="d-flex align-items-start gap-2">'
        f'<span class="avatar avatar-{int(row.tone)} d-none d-sm-inline-flex" aria-hidden="true">'
        f'{_e(row.initials)}</span><div class="user-cell-body">{link}'
        f"{_OWNER if row.is_owner else ''}"
        f' <button type="button" class="btn btn-link btn-sm peek-button" hx-get="{url}peek/" '
        f'hx-target="#modal-root" aria-label="Peek at {name}" hidden>Peek</button>'
        f'<div class="small text-body-secondary">{address}<button type="button" '
        f'class="btn btn-link copy-button" data-copy="#email-{pk}" '
        f'aria-label="Copy the address {email}" hidden>Copy</button></div></div></div></td>'
    )


def _badges(row: UserRow) -> tuple[str, str]:
    roles = "".join(
        f'<span class="badge rounded-pill text-bg-light border me-1">{_e(name)}</span>'
        for name in row.roles
    )
    organizations = "".join(
        '<a class="badge rounded-pill text-bg-light border me-1 text-decoration-none" '
        f'href="?organization={_e(slug)}">{_e(name)}</a>'
        for slug, name in row.organizations
    )
    return roles or _NONE, organizations or _NONE


def _actions_cell(row: UserRow) -> str:
    if not row.actions:
        return '<td class="col-actions text-end d-none d-sm-table-cell"></td>'
    items = "".join(
        f'<li><a class="dropdown-item" href="{_e(a.url)}">{_e(a.label)}…</a></li>'
        for a in row.actions
    )
    return (
        '<td class="col-actions text-end d-none d-sm-table-cell"><div class="dropdown">'
        '<button class="btn btn-sm btn-outline-secondary row-menu" type="button" '
        'data-bs-toggle="dropdown" aria-expanded="false"><span aria-hidden="true">⋯</span>'
        f'<span class="visually-hidden">Actions for {_e(row.email)}</span></button>'
        '<ul class="dropdown-menu dropdown-menu-end">'
        f'<li><a class="dropdown-item" href="{_e(row.detail_url)}">Open</a></li>{items}</ul>'
        "</div></td>"
    )


def rows_html(rows) -> SafeString:
    """The table body: every row's `<tr>`, given to the template as one
    value (a loop of 50 lookups there cost ~0.15 ms a page)."""
    return mark_safe("".join(row.html for row in rows))  # noqa: S308 (each row escaped by row_html)


def row_html(row: UserRow) -> SafeString:
    """The row's `<tr>`: every plain value escaped, only the markup written
    here (and the parts built as markup) passed through."""
    roles, organizations = _badges(row)
    return mark_safe(  # noqa: S308 (every value escaped above and here)
        f"<tr>{_check_cell(row) if row.selectable else ''}{_user_cell(row)}"
        f'<td class="d-none d-sm-table-cell">{roles}</td>'
        f'<td class="d-none d-lg-table-cell">{organizations}</td>'
        f'<td><span class="badge status-badge bg-status-{_e(row.status)}">'
        f"{_e(row.status_label)}</span>{row.status_notes}</td>"
        f'<td class="d-none d-md-table-cell">{_MFA_ON if row.has_mfa else _MFA_OFF}</td>'
        f'<td class="small text-nowrap d-none d-md-table-cell">{row.last_login or _NEVER}</td>'
        f'<td class="small text-nowrap d-none d-md-table-cell">{row.created}</td>'
        f"{_actions_cell(row)}</tr>\n"
    )
