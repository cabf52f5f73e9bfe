"""The users dashboard: list, export, detail, create, edit, status actions,
personal-data export and batch actions.

Views are thin: a form parses input, a service changes things, the page (or,
for an HTMX request, its partial) is rendered. Every HTMX control also has a
plain link or form behind it, so every page works without JavaScript.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.forms import (
    BatchForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from accounts.selectors.export import user_csv_lines
from accounts.services import exports as export_services
from accounts.services import users as user_services
from accounts.services.actions import batch_actions
from accounts.services.invitations import invitation_create
from accounts.views.filter_choices import filter_choices
from accounts.views.user_actions import (
    PAGE_ACTIONS,
    detail_context,
    make_action_view,
    user_data_export,
)
from accounts.views.user_batch import filter_fields, user_batch, user_batch_job
from accounts.views.user_peek import user_peek
from accounts.views.user_rows import rows_html, user_rows
from core.replica import replica_reads
from core.web import htmx_partial, refusals
from core.widgets import options_html
from rbac import policies
from rbac.decorators import permission_required
from rbac.selectors import organization_suggestions

app_name = "users"


# --- list and export ---------------------------------------------------------


def _query(request, **changes) -> str:
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


_URL_PLACEHOLDER = uuid.UUID(int=0)


def _detail_urls(users) -> None:
    """Each row's detail link from one `reverse` (per row, reversing costs
    more than the rest of the row's rendering)."""
    head, tail = reverse("users:detail", args=[_URL_PLACEHOLDER]).split(str(_URL_PLACEHOLDER))
    for user in users:
        user.detail_url = f"{head}{user.pk}{tail}"


@dataclass(frozen=True)
class SortHeader:
    query: str
    aria_sort: str  # "ascending" | "descending" | "" (not the sort column)
    label: str


# column -> (sort key, first click sorts descending?, label)
SORT_HEADERS = {
    "name": ("name", False, "Name"),
    "email": ("email", False, "Email"),
    "last_login": ("last_login", True, "Last sign-in"),
    "created": ("created", True, "Created"),
}


def _sort_headers(request, current: str) -> dict[str, SortHeader]:
    """Column headers that sort: a click sorts by that column, a second
    click reverses it. The cursor is dropped (a new order starts afresh)."""
    headers = {}
    for column, (key, desc_first, label) in SORT_HEADERS.items():
        if current == key:
            aria, target = "ascending", f"-{key}"
        elif current == f"-{key}":
            aria, target = "descending", key
        else:
            aria, target = "", f"-{key}" if desc_first else key
        headers[column] = SortHeader(
            _query(request, sort=target, cursor=None, page=None), aria, label
        )
    return headers


def _pager(request, page, match_count) -> dict:
    """The list's position: "26–50 of 398", and page numbers (first, last
    and the current one's neighbours) while the count is exact."""
    pager = {"range": "", "numbers": []}
    shown = len(page.users)
    if not shown or page.start is None:
        return pager
    first = page.start + 1
    pager["range"] = f"{first:,}–{page.start + shown:,} of {match_count.figure}"
    if not match_count.exact or page.start % page.size:
        return pager
    last = max(1, -(-match_count.value // page.size))
    current = page.start // page.size + 1
    wanted = sorted({1, current - 1, current, current + 1, last} & set(range(1, last + 1)))
    previous = 0
    for number in wanted:
        if number > previous + 1:
            pager["numbers"].append(None)  # a gap: "…"
        pager["numbers"].append(
            {
                "number": number,
                "query": _query(request, page=number, cursor=None),
                "current": number == current,
            }
        )
        previous = number
    return pager


# Up to this many organizations the filter is a select that lists them all;
# above it, a search field with suggestions (`user_organization_options`):
# 1,000 options were ~1.5 ms of every list page at 1,000 organizations
# (reading, checking and writing them; issue 29), and a long select is
# hard to use anyway.
ORGANIZATION_SELECT_LIMIT = 200


def _organization_filter(request, actor, organizations) -> tuple[dict, set | None]:
    """The filter form's organization arguments, and the ids of the
    organizations the rows may name (None: those of the page, asked by
    `user_rows`). The select's options are the rows' list too: one read
    (`filter_choices`, up to ORGANIZATION_SELECT_LIMIT + 1 of them)."""
    if len(organizations) <= ORGANIZATION_SELECT_LIMIT:
        pairs = [(slug, name) for _, slug, name in organizations]
        return {"organizations": pairs}, {org_id for org_id, _, _ in organizations}
    # Only the chosen one, if the actor sees it (else the filter is ignored,
    # as an unknown choice always was).
    chosen = request.GET.get("organization", "")
    visible = actor.visible_organizations()
    pairs = list(visible.filter(slug=chosen).values_list("slug", "name")) if chosen else []
    search = reverse("users:organization_options")
    return {"organizations": pairs, "organization_search": search}, None


@permission_required("users:read")
@require_http_methods(["GET"])
@replica_reads
def user_list(request):
    actor = request.actor
    # The filter's roles (the batch bar's too) and organizations, cached.
    roles, organizations = filter_choices(actor, organization_limit=ORGANIZATION_SELECT_LIMIT)
    organization_filter, visible_organizations = _organization_filter(request, actor, organizations)
    form = UserFilterForm(request.GET, roles=roles, **organization_filter)
    filters = form.filters()
    page = selectors.user_list(
        filters,
        actor=actor,
        cursor=request.GET.get("cursor", "")[:500],
        page_number=request.GET.get("page"),
        relations=False,  # read with the rows' guards (`user_rows`)
    )
    can_batch = any(policies.user_has(actor, a.permission) for a in batch_actions().values())
    match_count = selectors.user_count(filters, actor=actor, page=page)
    rows = user_rows(
        actor, page.users, visible_organizations=visible_organizations, selectable=can_batch
    )
    next_query = _query(request, cursor=page.next_cursor, page=None) if page.next_cursor else ""
    prev_query = _query(request, cursor=page.prev_cursor, page=None) if page.prev_cursor else ""
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": rows,
        "rows_html": rows_html(rows),
        "match_count": match_count,
        "pager": _pager(request, page, match_count),
        "sort_headers": _sort_headers(request, filters.sort),
        "next_query": next_query,
        "prev_query": prev_query,
        "export_query": _query(request, cursor=None, page=None),
        "filter_fields": filter_fields(request.GET, prefixed=False),
        "batch_options": _batch_options(roles) if can_batch else None,
        "can_export": policies.user_has(actor, "users:export"),
        "can_create": policies.user_has(actor, "users:create"),
        "can_batch": can_batch,
        "is_first_page": not request.GET.get("cursor") and not page.start,
        "organization_search": "organization_search" in organization_filter,
    }
    template = "users/list.html#results" if htmx_partial(request) else "users/list.html"
    return render(request, template, context)


@permission_required("users:read")
@require_http_methods(["GET"])
@replica_reads
def user_organization_options(request):
    """The organization filter's suggestions when it is a search field
    (`core.widgets.SuggestInput`): the first organizations the actor sees
    whose name or slug holds the typed text, as `<option>`s."""
    options = organization_suggestions(request.actor, request.GET.get("organization", ""))
    return render(request, "users/_organization_options.html", {"options": options})


def _batch_options(roles) -> dict:
    """The batch bar's actions (those with a role to choose marked) and
    roles (not the owner's), from the batch form's choices."""
    fields = BatchForm(roles=[r for r in roles if r[0] != "owner"]).fields
    return {
        "action": options_html(
            fields["action"].choices, marked={"assign_role", "remove_role"}, mark="data-needs-role"
        ),
        "role": options_html(fields["role"].choices),
    }


JUMP_LIMIT = 8


@permission_required("users:read")
@require_http_methods(["GET"])
def user_jump(request):
    """The "Find a user" palette (Ctrl+K): the first few users whose email
    or name contains the text, through the same filter as the list, so it
    shows exactly whom the list would."""
    q = request.GET.get("q", "").strip()
    users = []
    if q:
        filters = selectors.UserFilters(q=q)
        users = selectors.user_list(filters, actor=request.actor).users[:JUMP_LIMIT]
        _detail_urls(users)
    return render(request, "users/jump_results.html", {"q": q, "users": users})


@permission_required("users:export")
@require_http_methods(["GET"])
def user_export(request):
    filters = UserFilterForm(
        request.GET, organizations=request.actor.visible_organizations().order_by("name")
    ).filters()
    export_services.user_list_exported(actor=request.actor, filters=filters.__dict__)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        user_csv_lines(filters, actor=request.actor), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="users-{stamp}.csv"'
    return response


@permission_required("users:read")
@require_http_methods(["GET"])
@replica_reads
def user_detail(request, pk):
    subject = selectors.user_get(pk, actor=request.actor)
    return render(request, "users/detail.html", detail_context(request.actor, subject))


# Kept out of the header's everyday row, in its "More" menu: rare, and the
# deletions cannot be undone from the page (or at all).


@permission_required("users:create")
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = None
        with refusals(form, field_by_code=CREATE_ERROR_FIELDS) as outcome:
            if data["mode"] == "invite":
                user = _invite(request, data)
            else:
                user = user_services.user_create(
                    actor=request.actor,
                    email=data["email"],
                    name=data["name"],
                    password=data["password"],
                    roles=data["roles"],
                    template=data["template"] or None,
                    auto_confirm=data["auto_confirm"],
                )
        if outcome.ok and data["mode"] == "invite":
            messages.success(request, f"An invitation is on its way to {data['email']}.")
            return redirect("users:list")
        if outcome.ok:
            messages.success(request, f"The account for {user.email} was created.")
            return redirect("users:detail", pk=user.pk)
        status = outcome.status
    return render(request, "users/create.html", {"form": form}, status=status)


# Which field a service's refusal code belongs on.
PROFILE_ERROR_FIELDS = {
    "duplicate_email": "email",
    "invalid_email": "email",
    "mixed_script": "email",
    "invalid_phone": "phone",
    "invalid_json": "metadata",
    "not_object": "metadata",
    "too_large": "metadata",
    "too_deep": "metadata",
}
CREATE_ERROR_FIELDS = {
    **PROFILE_ERROR_FIELDS,
    "unknown_role": "roles",
    "owner_role": "roles",
    "unknown_template": "template",
    # Django's password validators
    "password_too_short": "password",
    "password_too_common": "password",
    "password_entirely_numeric": "password",
    "password_too_similar": "password",
}


def _invite(request, data):
    """The invitation branch: a pending user and an emailed invitation."""

    invitation, _link = invitation_create(
        actor=request.actor,
        email=data["email"],
        name=data["name"],
        roles=data["roles"],
        template=data["template"] or None,
    )
    return invitation.user


@permission_required("users:update")
@require_http_methods(["GET", "POST"])
def user_edit(request, pk):
    subject = selectors.user_get(pk, actor=request.actor)
    initial = {
        "name": subject.name,
        "email": subject.email,
        "phone": subject.phone,
        "metadata": json.dumps(subject.metadata, indent=2) if subject.metadata else "",
    }
    form = UserEditForm(request.POST or None, initial=initial)
    if policies.is_self(request.actor, subject):
        form.fields["email"].disabled = True
        form.fields["email"].help_text = "Change your own address on your account page."
    elif not policies.allows(policies.check_can_change_email, request.actor, subject):
        form.fields["email"].disabled = True
        form.fields["email"].help_text = "Changing the address needs users:update-email."
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with refusals(form, field_by_code=PROFILE_ERROR_FIELDS) as outcome:
            user_services.user_update(
                actor=request.actor,
                user=subject,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                metadata=data["metadata"],
            )
        if outcome.ok:
            messages.success(request, "Profile saved.")
            return redirect("users:detail", pk=subject.pk)
        status = outcome.status
    return render(request, "users/edit.html", {"form": form, "subject": subject}, status=status)


urlpatterns = [
    path("", user_list, name="list"),
    path("export.csv", user_export, name="export"),
    path("find/", user_jump, name="jump"),
    path("organizations/", user_organization_options, name="organization_options"),
    path("new/", user_create, name="create"),
    path("batch/", user_batch, name="batch"),
    path("batch/<uuid:pk>/", user_batch_job, name="batch_job"),
    path("<uuid:pk>/", user_detail, name="detail"),
    path("<uuid:pk>/edit/", user_edit, name="edit"),
    path("<uuid:pk>/peek/", user_peek, name="peek"),
    path("<uuid:pk>/export.json", user_data_export, name="data_export"),
    *[
        path(f"<uuid:pk>/{name}/", make_action_view(spec), name=name)
        for name, spec in PAGE_ACTIONS.items()
    ],
]
