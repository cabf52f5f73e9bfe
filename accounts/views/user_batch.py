"""Batch actions from the users list: a dry run first, then the single
action for each user (inline up to INLINE_LIMIT, a durable job above)."""

from __future__ import annotations

import hashlib

from django.core.exceptions import TooManyFieldsSent, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import selectors
from accounts.forms import (
    BATCH_FILTER_PREFIX,
    BanForm,
    BatchForm,
    UserFilterForm,
)
from accounts.services import batch as batch_services
from accounts.services.actions import MAGIC_TYPES, batch_actions
from accounts.views.jobs import describe, job_with_results
from core.services import refusal_text
from core.web import htmx_partial
from rbac.decorators import permission_required
from rbac.policies import PolicyDenied

app_name = "users"


# --- batch actions -----------------------------------------------------------


def _filter_form(data) -> UserFilterForm:
    """The list's filters as the batch form carries them: under their own
    prefix, never mixed with the batch's parameters."""
    return UserFilterForm(data, prefix=BATCH_FILTER_PREFIX)


def filter_fields(data, *, prefixed: bool) -> list[tuple[str, str]]:
    """The hidden inputs that carry the list's filters into a batch form,
    under their prefix; `data` is the list's query (`prefixed=False`) or a
    batch form's POST. The cursor is left out: "all matching" means every
    page."""
    fields = []
    for name in UserFilterForm.base_fields:
        key = f"{BATCH_FILTER_PREFIX}-{name}"
        value = data.get(key if prefixed else name)
        if name != "cursor" and value:
            fields.append((key, value))
    return fields


def selection_digest(ids) -> str:
    """A digest of a set of users: the preview's "all matching" selection,
    checked again when the batch runs."""
    return hashlib.sha256("\n".join(sorted(str(i) for i in ids)).encode()).hexdigest()


ROWS_PER_PAGE = 50


def item_rows(items: list, *, number=1, problems_only: bool = False) -> dict:
    """One page of a batch's per-user rows (`number` as sent, anything odd
    is page 1), all of them or only the skipped and the errors."""
    problems = [i for i in items if i.get("outcome") != "processed"]
    chosen = problems if problems_only else items
    pages = max(1, -(-len(chosen) // ROWS_PER_PAGE))
    try:
        number = min(max(int(number), 1), pages)
    except (TypeError, ValueError):
        number = 1
    start = (number - 1) * ROWS_PER_PAGE
    shown = chosen[start : start + ROWS_PER_PAGE]
    return {
        "items": shown,
        "number": number,
        "pages": pages,
        "previous": number - 1 if number > 1 else None,
        "next": number + 1 if number < pages else None,
        "first": start + 1,
        "last": start + len(shown),
        "total": len(chosen),
        "all": len(items),
        "problems": len(problems),
        "problems_only": problems_only,
    }


def _batch_ids(request, form) -> list:
    if form.cleaned_data.get("all_matching"):
        filters = _filter_form(request.POST).filters()
        limit = batch_services.MAX_BATCH_SIZE + 1
        return list(
            selectors.user_filter_queryset(filters, actor=request.actor)
            .order_by("-created_at", "-pk")
            .values_list("pk", flat=True)[:limit]
        )
    return form.cleaned_data["ids"]


def _batch_params(post, form, ban_form) -> dict:
    """What the batch form sent for the action's parameters (the
    declaration cleans them); a ban's end comes from its own form."""
    data = form.cleaned_data
    params = {"reason": data.get("reason", ""), "role": data.get("role", "")}
    params["type"] = post.get("type", "")
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
    all_matching = form.cleaned_data.get("all_matching")
    ids = _batch_ids(request, form)
    params = _batch_params(post, form, ban_form)
    execute = form.cleaned_data["execute"]
    if execute and action == "ban" and not ban_form.is_valid():
        context["error"] = "Check the ban duration."
        return render(request, "users/batch.html", context, status=400)
    context.update(
        action=batch_actions()[action],
        action_name=action,
        ids=[str(i) for i in ids] if not all_matching else [],
        all_matching=all_matching,
        filter_fields=filter_fields(post, prefixed=True),
        selection=selection_digest(ids) if all_matching else "",
        role_name=dict(form.fields["role"].choices).get(form.cleaned_data.get("role"), ""),
        magic_types=MAGIC_TYPES,
        link_type=post.get("type", "recovery"),
    )
    status = 200
    if execute and all_matching and form.cleaned_data["selection"] != context["selection"]:
        # The filter matches other users than the preview showed (someone
        # changed them meanwhile): show the new preview instead of running.
        execute = False
        status = 409
        context["error"] = (
            "The users matching the filter changed since the preview. "
            "Check this new preview, then run the action."
        )
    try:
        if execute and len(ids) > batch_services.INLINE_LIMIT:
            job = batch_services.batch_job_create(
                actor=request.actor,
                action=action,
                user_ids=ids,
                params=params,
                current_password=post.get("current_password"),
            )
            target = reverse("users:batch_job", args=[job.pk])
            return HttpResponseClientRedirect(target) if htmx_partial(request) else redirect(target)
        result = batch_services.batch_run(
            actor=request.actor,
            action=action,
            user_ids=ids,
            params=params,
            dry_run=not execute,
            current_password=post.get("current_password"),
        )
    except PolicyDenied as exc:
        context["error"] = exc.message
        return render(request, "users/batch.html", context, status=403)
    except ValidationError as exc:
        context["error"] = refusal_text(exc)
        return render(request, "users/batch.html", context, status=400)
    context["result"] = result
    if result["dry_run"]:
        # The preview pages its rows by running the dry run again (nothing
        # is kept between requests): the view form posts the same selection.
        context["rows"] = item_rows(
            result["items"], number=post.get("rows"), problems_only=post.get("only") == "problems"
        )
    else:
        # An inline run cannot be run again to page it: its skipped users and
        # errors first, the processed ones folded away.
        context["rows"] = item_rows(result["items"], problems_only=True, number=1)
        context["rows"]["items"] = [i for i in result["items"] if i.get("outcome") != "processed"]
        context["processed_items"] = [i for i in result["items"] if i.get("outcome") == "processed"]
    return render(request, "users/batch.html", context, status=status)


@permission_required("users:read")
@require_http_methods(["GET"])
def user_batch_job(request, pk):
    job = job_with_results(request, pk, kind="batch")
    result = job.result or {}
    context = {
        "job": job,
        "row": describe(job, request.actor, timezone.now()),
        "action": batch_actions().get(job.action),
        "result": result,
        "rows": item_rows(
            result.get("items") or [],
            number=request.GET.get("rows"),
            problems_only=request.GET.get("only") == "problems",
        ),
        "running": job.status in ("pending", "running"),
    }
    template = "users/batch_job.html#progress" if htmx_partial(request) else "users/batch_job.html"
    return render(request, template, context)
