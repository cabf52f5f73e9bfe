"""The webhooks pages: the endpoints, one endpoint with its delivery log,
and the buttons (send a test event, rotate the secret, enable or disable,
remove, replay a delivery). Each calls one service with `actor=`."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.web import refusals
from rbac import policies
from rbac.decorators import permission_required
from webhooks import selectors
from webhooks.catalogue import describe
from webhooks.forms import EndpointForm
from webhooks.models import DeliveryStatus
from webhooks.services import endpoints as services

app_name = "webhooks"
PAGE_SIZE = 25
FIELD_BY_CODE = {"unsafe_url": "url", "invalid_url": "url", "unknown_event_type": "event_types"}


@permission_required("webhooks:read")
@require_http_methods(["GET", "POST"])
def endpoint_list(request):
    form = EndpointForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            with refusals(form, field_by_code=FIELD_BY_CODE) as outcome:
                endpoint, secret = services.endpoint_create(
                    actor=request.actor,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    event_types=form.cleaned_data["event_types"],
                )
            if outcome.ok:
                return render(
                    request, "webhooks/created.html", {"endpoint": endpoint, "secret": secret}
                )
            status = outcome.status
        else:
            status = 400
    context = {
        "endpoints": selectors.endpoint_list(actor=request.actor),
        "form": form,
        "can_manage": policies.user_has(request.actor, "webhooks:manage"),
    }
    return render(request, "webhooks/list.html", context, status=status)


@permission_required("webhooks:read")
@require_http_methods(["GET"])
def endpoint_detail(request, pk):
    endpoint = selectors.endpoint_get(pk, actor=request.actor)
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    rows = selectors.delivery_list(endpoint, actor=request.actor, status=status)
    context = {
        "endpoint": endpoint,
        "events": [(t, describe(t)) for t in endpoint.event_types],
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "status": status,
        "can_manage": policies.user_has(request.actor, "webhooks:manage"),
    }
    return render(request, "webhooks/detail.html", context)


def _back(pk):
    return redirect(reverse("webhooks:detail", args=[pk]))


@permission_required("webhooks:manage")
@require_POST
def endpoint_test(request, pk):
    with refusals(request=request) as outcome:
        services.endpoint_send_test(actor=request.actor, endpoint=pk)
    if outcome.ok:
        messages.success(request, "A test event is on its way; it appears in the log below.")
    return _back(pk)


@permission_required("webhooks:manage")
@require_POST
def endpoint_rotate(request, pk):
    with refusals(request=request) as outcome:
        endpoint, secret = services.endpoint_rotate_secret(actor=request.actor, endpoint=pk)
    if not outcome.ok:
        return _back(pk)
    return render(
        request, "webhooks/created.html", {"endpoint": endpoint, "secret": secret, "rotated": True}
    )


@permission_required("webhooks:manage")
@require_POST
def endpoint_toggle(request, pk):
    enable = request.POST.get("enabled") == "1"
    with refusals(request=request) as outcome:
        services.endpoint_update(actor=request.actor, endpoint=pk, enabled=enable)
    if outcome.ok:
        messages.success(
            request, "The endpoint is enabled." if enable else "The endpoint is disabled."
        )
    return _back(pk)


@permission_required("webhooks:manage")
@require_POST
def endpoint_delete(request, pk):
    with refusals(request=request) as outcome:
        services.endpoint_delete(actor=request.actor, endpoint=pk)
    if not outcome.ok:
        return _back(pk)
    messages.success(request, "The endpoint is removed.")
    return redirect(reverse("webhooks:list"))


@permission_required("webhooks:manage")
@require_POST
def delivery_replay(request, pk, delivery_id):
    with refusals(request=request) as outcome:
        delivery = services.delivery_replay(
            actor=request.actor, endpoint=pk, delivery_id=delivery_id
        )
    if outcome.ok:
        messages.success(request, f"Delivery #{delivery.sequence} is sent again.")
    return _back(pk)


urlpatterns = [
    path("", endpoint_list, name="list"),
    path("<uuid:pk>/", endpoint_detail, name="detail"),
    path("<uuid:pk>/test/", endpoint_test, name="test"),
    path("<uuid:pk>/rotate/", endpoint_rotate, name="rotate"),
    path("<uuid:pk>/toggle/", endpoint_toggle, name="toggle"),
    path("<uuid:pk>/delete/", endpoint_delete, name="delete"),
    path("<uuid:pk>/deliveries/<int:delivery_id>/replay/", delivery_replay, name="replay"),
]
