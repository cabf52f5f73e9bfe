"""/account/data/ and /account/delete/: a user's own data (seed 002,
"data privacy"). Download what Handover holds about you; ask for your
account to be deleted after a cooling-off period, or cancel that request.
Wired into `accounts.views.account`'s URLs."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.reauth import reauth_required
from accounts.services import self_deletion
from core.web import refusals
from rbac import policies
from rbac.decorators import signed_in


class DeleteAccountForm(forms.Form):
    understood = forms.BooleanField(
        label="I understand that my account, its sessions, keys and roles will be deleted.",
        error_messages={"required": "Tick the box to confirm you understand."},
    )


@signed_in
@never_cache
@require_http_methods(["GET"])
def data_download(request):
    """ "Download my data": everything held about you, as JSON."""
    data = self_deletion.account_data_export(actor=request.actor)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="my-handover-data.json"'
    return response


@signed_in
@reauth_required
@never_cache
@require_http_methods(["GET", "POST"])
def delete_request(request):
    """ "Delete my account": explained and confirmed, with a fresh proof."""
    me = request.actor.person
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        with refusals(form) as outcome:
            user = self_deletion.account_deletion_request(actor=request.actor)
        if outcome.ok:
            messages.success(
                request,
                f"Your account will be deleted on {user.deletion_due_at:%d %B %Y}. "
                "You can cancel until then from this page.",
            )
            return redirect("account:home")
        status = outcome.status
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "account/delete.html",
        {
            "form": form,
            "me": me,
            "cooling_off_days": settings.SELF_DELETION_COOLING_OFF.days,
            "may_request": policies.allows(policies.check_can_request_own_deletion, request.actor),
        },
        status=status,
    )


@signed_in
@require_http_methods(["POST"])
def delete_cancel(request):
    with refusals(request=request) as outcome:
        self_deletion.account_deletion_cancel(actor=request.actor)
    if outcome.ok:
        messages.success(request, "The deletion of your account was cancelled.")
    return redirect("account:home")
