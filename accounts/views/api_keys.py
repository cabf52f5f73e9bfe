"""The API keys page: list, create (the key is shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ApiKeyForm
from accounts.models import ApiKey
from accounts.reauth import reauth_required, reauth_url
from accounts.services import api_keys as key_services
from core.web import refusals
from rbac import policies
from rbac.decorators import permission_required
from rbac.permissions import TEMPLATES, grouped
from rbac.policies import PolicyDenied

app_name = "api_keys"


@permission_required("api-keys:read")
def key_list(request):
    keys = ApiKey.objects.filter(user__in=request.actor.visible_users())
    keys = keys.select_related("user").order_by("-created_at")[:500]
    return render(request, "api_keys/list.html", {"keys": keys})


@permission_required("api-keys:create")
@reauth_required
@require_http_methods(["GET", "POST"])
def key_create(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with refusals(form) as outcome:
            key, raw = key_services.api_key_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["permissions"],
                template=form.cleaned_data["template"] or None,
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        if outcome.ok:
            response = render(request, "api_keys/created.html", {"key": key, "raw": raw})
            response["Cache-Control"] = "no-store"
            return response
    held = policies.permissions_of(request.actor)
    groups = [(label, [(p, p.code in held) for p in perms]) for _g, label, perms in grouped()]
    selected = set(form["permissions"].value() or [])
    return render(
        request,
        "api_keys/create.html",
        {"form": form, "groups": groups, "selected": selected, "templates": TEMPLATES},
    )


@permission_required("api-keys:read")
@require_POST
def key_revoke(request, key_id):
    key = get_object_or_404(ApiKey, pk=key_id)
    try:
        key_services.api_key_revoke(actor=request.actor, key=key)
    except PolicyDenied as exc:
        if exc.code == "reauthentication_required":
            # One of your own other keys: prove it is you, then revoke again.
            return redirect(reauth_url(reverse("api_keys:list")))
        raise  # ServiceRefusalMiddleware: the 403 page with the guard's words
    messages.success(request, f"The key “{key.name}” was revoked. Requests using it now get 401.")
    return redirect("api_keys:list")


urlpatterns = [
    path("", key_list, name="list"),
    path("new/", key_create, name="create"),
    path("<uuid:key_id>/revoke/", key_revoke, name="revoke"),
]
