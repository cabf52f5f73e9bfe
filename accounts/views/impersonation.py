"""Viewing the dashboard as another user (issue 26): the start page (a
required reason) and the stop button. The view is state of the operator's
own session (`impersonation.SESSION_KEY`); `accounts.middleware` builds
the read-only actor from it on every request."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.services import impersonation as impersonation_services
from core.web import refusals
from rbac.decorators import permission_required, signed_in
from rbac.permissions import IMPERSONATE_PERMISSION

app_name = "impersonation"


class ImpersonateForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need to see what they see (a ticket number, the problem). "
        "It is recorded and sent to them.",
    )


@permission_required(IMPERSONATE_PERMISSION)
@require_http_methods(["GET", "POST"])
def impersonation_start(request, pk):
    subject = selectors.user_get(pk, actor=request.actor)
    form = ImpersonateForm(request.POST or None)
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        with refusals(form) as outcome:
            state = impersonation_services.impersonation_start(
                actor=request.actor, user=subject, reason=form.cleaned_data["reason"]
            )
        if outcome.ok:
            request.session[impersonation_services.SESSION_KEY] = state
            return redirect("overview")
        status = outcome.status
    return render(
        request,
        "users/impersonate.html",
        {
            "subject": subject,
            "form": form,
            "minutes": int(impersonation_services.max_duration().total_seconds() // 60),
        },
        status=status,
    )


@signed_in
@require_http_methods(["POST"])
def impersonation_stop(request):
    if impersonation_services.SESSION_KEY in request.session:
        actor = request.actor
        del request.session[impersonation_services.SESSION_KEY]
        if actor.acting_for is not None:
            impersonation_services.impersonation_stop(actor=actor)
            messages.info(request, "You see your own dashboard again.")
            return redirect("users:detail", pk=actor.acting_for.pk)
    return redirect("overview")


urlpatterns = [
    path("users/<uuid:pk>/impersonate/", impersonation_start, name="start"),
    path("impersonation/stop/", impersonation_stop, name="stop"),
]
