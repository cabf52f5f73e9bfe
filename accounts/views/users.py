"""The users dashboard: list, export, detail, create, edit, status actions,
personal-data export and batch actions.

Views are thin: a form parses input, a service changes things, the page (or,
for an HTMX request, its partial) is rendered. Every HTMX control also has a
plain link or form behind it, so every page works without JavaScript.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.contrib import messages
from django.core.exceptions import TooManyFieldsSent, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors
from accounts.forms import (
    BanForm,
    BatchForm,
    HardDeleteForm,
    NoFieldsForm,
    ReasonForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from accounts.reauth import reauth_required
from accounts.services import batch as batch_services
from accounts.services import users as user_services
from accounts.services.invitations import invitation_create
from accounts.views.jobs import describe, visible_job
from core.services import NotFound
from rbac.decorators import forbidden, permission_required
from rbac.policies import PolicyDenied, user_can_act_on, user_has

app_name = "users"

GONE_MESSAGE = "This user no longer exists. Someone may have deleted them while you were looking."


def _partial(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _gone(request):
    return render(request, "users/gone.html", {"message": GONE_MESSAGE}, status=404)


def _subject_or_none(pk):
    return selectors.user_get(pk)


def _apply_errors(form, exc: ValidationError, field_by_code: dict | None = None) -> None:
    """Put a service's ValidationError on the matching field, or the form."""
    field_by_code = field_by_code or {}
    for error in exc.error_list if hasattr(exc, "error_list") else [exc]:
        field = field_by_code.get(error.code)
        text = error.message % error.params if error.params else error.message
        form.add_error(field if field in form.fields else None, text)


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
        headers[column] = SortHeader(_query(request, sort=target, cursor=None), aria, label)
    return headers


@permission_required("users:read")
@require_http_methods(["GET"])
def user_list(request):
    form = UserFilterForm(request.GET)
    filters = form.filters()
    page = selectors.user_list(filters, cursor=request.GET.get("cursor", "")[:500])
    _detail_urls(page.users)
    actor = request.user
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "match_count": selectors.user_count(filters),
        "sort_headers": _sort_headers(request, filters.sort),
        "next_query": _query(request, cursor=page.next_cursor) if page.next_cursor else "",
        "prev_query": _query(request, cursor=page.prev_cursor) if page.prev_cursor else "",
        "export_query": _query(request, cursor=None),
        "filter_fields": [
            (k, v) for k, v in request.GET.items() if k in form.fields and k != "cursor"
        ],
        "batch_form": BatchForm(),
        "can_export": user_has(actor, "users:export"),
        "can_create": user_has(actor, "users:create"),
        "can_batch": any(user_has(actor, a.permission) for a in batch_services.ACTIONS.values()),
        "is_first_page": not request.GET.get("cursor"),
    }
    template = "users/list.html#results" if _partial(request) else "users/list.html"
    return render(request, template, context)


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
        users = selectors.user_list(selectors.UserFilters(q=q)).users[:JUMP_LIMIT]
        _detail_urls(users)
    return render(request, "users/jump_results.html", {"q": q, "users": users})


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@permission_required("users:export")
@require_http_methods(["GET"])
def user_export(request):
    filters = UserFilterForm(request.GET).filters()
    user_services.user_list_exported(actor=request.user, filters=filters.__dict__)
    qs = (
        selectors.user_filter_queryset(filters)
        .annotate(has_mfa=selectors.mfa_enabled_q())
        .prefetch_related("roles")
        .order_by("-created_at", "-pk")
    )
    writer = csv.writer(_Echo())
    header = ["id", "email", "name", "status", "roles", "mfa", "last_sign_in", "created_at"]

    def rows():
        yield writer.writerow(header)
        for user in qs.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    user.pk,
                    _csv_safe(user.email),
                    _csv_safe(user.name),
                    user.status,
                    _csv_safe(" ".join(r.slug for r in user.roles.all())),
                    "on" if user.has_mfa else "off",
                    user.last_login.isoformat() if user.last_login else "",
                    user.created_at.isoformat(),
                ]
            )

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="users-{stamp}.csv"'
    return response


# --- detail, create, edit ----------------------------------------------------


@dataclass(frozen=True)
class StatusAction:
    name: str
    permission: str
    title: str
    button: str
    form: type
    # The single action (a service function; the form's `service_kwargs()`
    # supplies its arguments besides actor and user).
    service: Callable
    done: str
    danger: bool = True
    description: str = ""
    # Irreversible actions ask for the password (and code) again first.
    reauth: bool = False

    def applies(self, user) -> bool:
        status = user.status
        return {
            "ban": status != "deleted",
            "unban": bool(user.banned_until) and status != "deleted",
            "disable": not user.disabled_at and status != "deleted",
            "enable": bool(user.disabled_at) and status != "deleted",
            "force-password-change": not user.must_change_password and status != "deleted",
            "delete": status != "deleted",
            "restore": status == "deleted",
            "hard-delete": True,
        }[self.name]


# Every message about the restore window says the one constant's number.
RESTORE_DAYS = user_services.RESTORE_WINDOW.days

STATUS_ACTIONS = {
    a.name: a
    for a in [
        StatusAction(
            "ban",
            "users:ban",
            "Ban user",
            "Ban",
            BanForm,
            user_services.user_ban,
            "{email} is banned.",
            description="A banned user cannot sign in. Their sessions end now and "
            "outstanding links stop working.",
        ),
        StatusAction(
            "unban",
            "users:ban",
            "Unban user",
            "Unban",
            ReasonForm,
            user_services.user_unban,
            "{email} is no longer banned.",
            danger=False,
            description="The user can sign in again.",
        ),
        StatusAction(
            "disable",
            "users:disable",
            "Disable user",
            "Disable",
            ReasonForm,
            user_services.user_disable,
            "{email} is disabled.",
            description="A disabled user cannot sign in until enabled again. Their sessions "
            "end now.",
        ),
        StatusAction(
            "enable",
            "users:disable",
            "Enable user",
            "Enable",
            ReasonForm,
            user_services.user_enable,
            "{email} is enabled.",
            danger=False,
            description="The user can sign in again.",
        ),
        StatusAction(
            "force-password-change",
            "users:reset-password",
            "Force a password change",
            "Force password change",
            NoFieldsForm,
            user_services.user_force_password_change,
            "{email} must choose a new password at the next sign-in.",
            danger=False,
            description="The user keeps signing in with the current password once more, "
            "then has to choose a new one.",
        ),
        StatusAction(
            "delete",
            "users:delete",
            "Delete user",
            "Delete",
            ReasonForm,
            user_services.user_delete,
            "{email} is deleted. You can restore them for %d days." % RESTORE_DAYS,
            description="The user cannot sign in and disappears from the list. You can "
            "restore them within %d days." % RESTORE_DAYS,
        ),
        StatusAction(
            "restore",
            "users:delete",
            "Restore user",
            "Restore",
            ReasonForm,
            user_services.user_restore,
            "{email} is restored.",
            danger=False,
            description="The user comes back with the status they had before.",
        ),
        StatusAction(
            "hard-delete",
            "users:delete",
            "Delete permanently",
            "Delete permanently",
            HardDeleteForm,
            user_services.user_hard_delete,
            "{email} is permanently deleted.",
            description="This erases the user and everything attached to them. The audit "
            "log keeps its record. This cannot be undone.",
            reauth=True,
        ),
    ]
}


@permission_required("users:read")
@require_http_methods(["GET"])
def user_detail(request, pk):
    subject = _subject_or_none(pk)
    if subject is None:
        return _gone(request)
    return render(request, "users/detail.html", _detail_context(request.user, subject))


# Kept out of the header's everyday row, in its "More" menu: rare, and the
# deletions cannot be undone from the page (or at all).
MORE_MENU_ACTIONS = ("force-password-change", "delete", "hard-delete")


def _detail_context(actor, subject) -> dict:
    """What the page header and the status section need."""
    actions = [
        a
        for a in STATUS_ACTIONS.values()
        if a.applies(subject) and user_can_act_on(actor, subject, a.permission)
    ]
    if subject.status == "banned":
        # Already banned: offer to change the ban (its end or reason), next to Unban.
        actions = [
            replace(a, button="Change ban", danger=False) if a.name == "ban" else a for a in actions
        ]
    return {
        "subject": subject,
        "actions": actions,
        "primary_actions": [a for a in actions if a.name not in MORE_MENU_ACTIONS],
        "more_actions": [a for a in actions if a.name in MORE_MENU_ACTIONS and not a.danger],
        "danger_actions": [a for a in actions if a.name in MORE_MENU_ACTIONS and a.danger],
        "can_edit": actor.pk == subject.pk or user_can_act_on(actor, subject, "users:update"),
        "can_export": user_has(actor, "users:export"),
        "restore_deadline": user_services.restore_deadline(subject),
    }


@permission_required("users:create")
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["mode"] == "invite":
                user = _invite(request, form, data)
            else:
                user = user_services.user_create(
                    actor=request.user,
                    email=data["email"],
                    name=data["name"],
                    password=data["password"],
                    roles=data["roles"],
                    template=data["template"] or None,
                    auto_confirm=data["auto_confirm"],
                )
        except PolicyDenied as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            _apply_errors(form, exc, CREATE_ERROR_FIELDS)
        else:
            if user is not None:
                messages.success(request, f"The account for {user.email} was created.")
                return redirect("users:detail", pk=user.pk)
            if not form.errors:
                messages.success(request, f"An invitation is on its way to {data['email']}.")
                return redirect("users:list")
    return render(request, "users/create.html", {"form": form})


CREATE_ERROR_FIELDS = {
    "duplicate_email": "email",
    "invalid_email": "email",
    "unknown_role": "roles",
    "owner_role": "roles",
    "unknown_template": "template",
    # Django's password validators
    "password_too_short": "password",
    "password_too_common": "password",
    "password_entirely_numeric": "password",
    "password_too_similar": "password",
}


def _invite(request, form, data):
    """The invitation branch: a pending user and an emailed invitation."""

    invitation, _link = invitation_create(
        actor=request.user,
        email=data["email"],
        name=data["name"],
        roles=data["roles"],
        template=data["template"] or None,
    )
    return invitation.user


@permission_required("users:update")
@require_http_methods(["GET", "POST"])
def user_edit(request, pk):
    subject = _subject_or_none(pk)
    if subject is None:
        return _gone(request)
    initial = {
        "name": subject.name,
        "email": subject.email,
        "phone": subject.phone,
        "metadata": json.dumps(subject.metadata, indent=2) if subject.metadata else "",
    }
    form = UserEditForm(request.POST or None, initial=initial)
    if request.user.pk == subject.pk:
        form.fields["email"].disabled = True
        form.fields["email"].help_text = "Change your own address on your account page."
    elif not user_can_act_on(request.user, subject, "users:update-email"):
        form.fields["email"].disabled = True
        form.fields["email"].help_text = "Changing the address needs users:update-email."
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user_services.user_update(
                actor=request.user,
                user=subject,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                metadata=data["metadata"],
            )
        except (Http404, NotFound):
            return _gone(request)
        except PolicyDenied as exc:
            form.add_error(None, exc.message)
            status = 403
        except ValidationError as exc:
            _apply_errors(
                form,
                exc,
                {
                    "duplicate_email": "email",
                    "invalid_email": "email",
                    "invalid_json": "metadata",
                    "not_object": "metadata",
                    "too_large": "metadata",
                    "too_deep": "metadata",
                    "invalid_phone": "phone",
                },
            )
        else:
            messages.success(request, "Profile saved.")
            return redirect("users:detail", pk=subject.pk)
    return render(request, "users/edit.html", {"form": form, "subject": subject}, status=status)


def _action_done(request, subject):
    """The dialog's answer after an action: it closes, and the header, the
    status section (with its history) and the messages refresh in place."""
    subject = _subject_or_none(subject.pk)
    if subject is None:
        return HttpResponseClientRedirect(reverse("users:list"))
    response = render(request, "users/_action_done.html", _detail_context(request.user, subject))
    # Close the dialog; sections loaded as fragments (activity) reload.
    response["HX-Trigger"] = json.dumps({"handover:modal-close": "", "handover:user-changed": ""})
    return response


def _make_action_view(spec: StatusAction):
    def view(request, pk):
        subject = _subject_or_none(pk)
        if subject is None:
            return _gone(request)
        action = spec
        initial = {}
        if spec.name == "ban" and subject.status == "banned":
            # Changing a ban: start from the ban as it is.
            action = replace(spec, title="Change ban", button="Save ban", danger=False)
            initial = {"reason": subject.ban_reason}
            if not subject.is_banned_permanently:
                local_end = timezone.localtime(subject.banned_until)
                initial.update(duration="until", until=local_end.strftime("%Y-%m-%dT%H:%M"))
        form = spec.form(request.POST or None, initial=initial)
        status = 200
        if request.method == "POST" and form.is_valid():
            email = subject.email
            try:
                spec.service(actor=request.user, user=subject, **form.service_kwargs())
            except (Http404, NotFound):
                return _gone(request)
            except PolicyDenied as exc:
                form.add_error(None, exc.message)
                status = 403
            except ValidationError as exc:
                _apply_errors(
                    form, exc, {"confirm_mismatch": "confirm_email", "ban_in_past": "until"}
                )
            else:
                messages.success(request, spec.done.format(email=email))
                if spec.name == "hard-delete":
                    target = reverse("users:list")
                    if _partial(request):
                        return HttpResponseClientRedirect(target)
                    return redirect(target)
                if _partial(request):
                    return _action_done(request, subject)
                return redirect("users:detail", pk=subject.pk)
        context = {"subject": subject, "action": action, "form": form}
        if _partial(request):
            # A failed submit re-renders the form inside the open dialog.
            name = "form" if request.method == "POST" else "dialog"
            return render(request, f"users/confirm.html#{name}", context)
        return render(request, "users/confirm.html", context, status=status)

    view.__name__ = "user_" + spec.name.replace("-", "_")
    view.__qualname__ = view.__name__
    view = require_http_methods(["GET", "POST"])(view)
    if spec.reauth:
        view = reauth_required(view)
    return permission_required(spec.permission)(view)


@permission_required("users:export")
@require_http_methods(["GET"])
def user_data_export(request, pk):
    subject = _subject_or_none(pk)
    if subject is None:
        return _gone(request)
    try:
        data = user_services.user_data_exported(actor=request.user, user=subject)
    except PolicyDenied as exc:
        return forbidden(request, message=exc.message)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="user-{subject.pk}.json"'
    return response


# --- batch actions -----------------------------------------------------------


def _batch_ids(request, form) -> list:
    if form.cleaned_data.get("all_matching"):
        filters = UserFilterForm(request.POST).filters()
        limit = batch_services.MAX_BATCH_SIZE + 1
        return list(
            selectors.user_filter_queryset(filters)
            .order_by("-created_at", "-pk")
            .values_list("pk", flat=True)[:limit]
        )
    return form.cleaned_data["ids"]


def _batch_params(form, ban_form) -> dict:
    data = form.cleaned_data
    params = {"reason": data.get("reason", ""), "role": data.get("role", "")}
    if data.get("action") == "ban" and ban_form.is_valid():
        until = ban_form.cleaned_data.get("ban_until")
        params["until"] = until.isoformat() if until else None
    return params


@permission_required("users:read")
@require_POST
def user_batch(request):
    """Dry run first (the default), then execute; big batches become jobs."""
    try:
        post = request.POST
    except TooManyFieldsSent:
        return render(
            request,
            "users/batch.html",
            {
                "error": "Too many users in one request. Use “select all matching the filter” "
                "or narrow the filter."
            },
            status=400,
        )
    form = BatchForm(post)
    # The ban duration is chosen on the preview page, so it is read only
    # when executing.
    ban_form = BanForm(post if post.get("execute") else None, prefix="ban")
    context = {"form": form, "ban_form": ban_form, "inline_limit": batch_services.INLINE_LIMIT}
    if not form.is_valid():
        context["error"] = " ".join(e for errors in form.errors.values() for e in errors)
        return render(request, "users/batch.html", context, status=400)
    action = form.cleaned_data["action"]
    ids = _batch_ids(request, form)
    params = _batch_params(form, ban_form)
    execute = form.cleaned_data["execute"]
    if execute and action == "ban" and not ban_form.is_valid():
        context["error"] = "Check the ban duration."
        return render(request, "users/batch.html", context, status=400)
    context.update(
        action=batch_services.ACTIONS[action],
        action_name=action,
        ids=[str(i) for i in ids] if not form.cleaned_data.get("all_matching") else [],
        all_matching=form.cleaned_data.get("all_matching"),
        filter_fields=[
            (k, v)
            for k, v in post.items()
            if k in UserFilterForm.base_fields and k != "cursor" and v
        ],
    )
    try:
        if execute and len(ids) > batch_services.INLINE_LIMIT:
            job = batch_services.batch_job_create(
                actor=request.user, action=action, user_ids=ids, params=params
            )
            target = reverse("users:batch_job", args=[job.pk])
            return HttpResponseClientRedirect(target) if _partial(request) else redirect(target)
        result = batch_services.batch_run(
            actor=request.user, action=action, user_ids=ids, params=params, dry_run=not execute
        )
    except PolicyDenied as exc:
        context["error"] = exc.message
        return render(request, "users/batch.html", context, status=403)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "users/batch.html", context, status=400)
    context["result"] = result
    context["shown_items"] = result["items"][:500]
    return render(request, "users/batch.html", context)


@permission_required("users:read")
@require_http_methods(["GET"])
def user_batch_job(request, pk):
    job = visible_job(request, pk)
    if job.kind != "batch":
        raise Http404("This batch job does not exist.")
    result = job.result or {}
    context = {
        "job": job,
        "row": describe(job, request.user, timezone.now()),
        "action": batch_services.ACTIONS.get(job.action),
        "result": result,
        "shown_items": (result.get("items") or [])[:500],
        "running": job.status in ("pending", "running"),
    }
    template = "users/batch_job.html#progress" if _partial(request) else "users/batch_job.html"
    return render(request, template, context)


urlpatterns = [
    path("", user_list, name="list"),
    path("export.csv", user_export, name="export"),
    path("find/", user_jump, name="jump"),
    path("new/", user_create, name="create"),
    path("batch/", user_batch, name="batch"),
    path("batch/<uuid:pk>/", user_batch_job, name="batch_job"),
    path("<uuid:pk>/", user_detail, name="detail"),
    path("<uuid:pk>/edit/", user_edit, name="edit"),
    path("<uuid:pk>/export.json", user_data_export, name="data_export"),
    *[
        path(f"<uuid:pk>/{name}/", _make_action_view(spec), name=name)
        for name, spec in STATUS_ACTIONS.items()
    ],
]
