"""Django admin's actions on users, one per declared batchable action
(`accounts.services.actions`): the selected users go through `batch_run`
-- the same guard, state rule and audit event as every other door -- after
an intermediate page asking for the action's parameters when it has any
(a ban's duration and reason; the current password before erasing)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.forms import ActionForm
from accounts.services import batch as batch_services
from accounts.services.actions import UserAction, batch_actions
from core.services import refusal_text
from rbac.policies import PolicyDenied

SHOWN_REFUSALS = 20


def _form(declaration: UserAction, request) -> ActionForm:
    data = request.POST if request.POST.get("apply") else None
    form = ActionForm(declaration, data, ask_password=declaration.reauth, per_user=False)
    return form


def _report(modeladmin, request, declaration, result) -> None:
    if result["processed"]:
        modeladmin.message_user(
            request, f"{declaration.label}: {result['processed']} done.", messages.SUCCESS
        )
    problems = [i for i in result["items"] if i["outcome"] != "processed"]
    for item in problems[:SHOWN_REFUSALS]:
        who = item["email"] or item["user_id"]
        modeladmin.message_user(request, f"Refused — {who}: {item['reason']}", messages.ERROR)
    if len(problems) > SHOWN_REFUSALS:
        more = len(problems) - SHOWN_REFUSALS
        modeladmin.message_user(request, f"…and {more} more refused.", messages.ERROR)


def run_declared(modeladmin, request, queryset, declaration: UserAction):
    form = _form(declaration, request)
    if form.fields and not form.is_valid():
        return TemplateResponse(
            request,
            "admin/user_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": declaration.title,
                "opts": modeladmin.model._meta,
                "declaration": declaration,
                "form": form,
                "queryset": list(queryset),
                "action_name": action_name(declaration),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
    ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    params = form.cleaned_params if form.fields else {}
    password = form.cleaned_data.get("current_password") if form.fields else None
    try:
        if len(ids) > batch_services.INLINE_LIMIT:
            job = batch_services.batch_job_create(
                actor=request.actor,
                action=declaration.key,
                user_ids=ids,
                params=params,
                current_password=password,
            )
            url = reverse("users:batch_job", args=[job.pk])
            modeladmin.message_user(
                request,
                f"{declaration.label}: {len(ids)} users queued as a job ({url}).",
                messages.SUCCESS,
            )
            return None
        result = batch_services.batch_run(
            actor=request.actor,
            action=declaration.key,
            user_ids=ids,
            params=params,
            current_password=password,
        )
    except (PolicyDenied, ValidationError) as exc:
        modeladmin.message_user(request, f"Refused — {refusal_text(exc)}", messages.ERROR)
        return None
    _report(modeladmin, request, declaration, result)
    return None


def action_name(declaration: UserAction) -> str:
    return f"user_{declaration.key}_action"


def declared_action(declaration: UserAction):
    def action(modeladmin, request, queryset):
        return run_declared(modeladmin, request, queryset, declaration)

    action.__name__ = action_name(declaration)
    action.short_description = f"{declaration.label}: selected users"
    action.allowed_permissions = ("catalog",)
    action.required_permission = declaration.permission
    return action


def user_actions() -> list:
    """An admin action for every declared batchable action."""
    return [declared_action(d) for d in batch_actions().values()]
