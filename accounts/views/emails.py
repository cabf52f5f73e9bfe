"""The outbox page: every outbound email with its delivery status, and a
retry action for the ones that failed."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import EmailStatus, OutboundEmail
from accounts.services import emails as email_services
from core.web import htmx_partial, refusals, safe_back
from rbac import policies
from rbac.decorators import permission_required

app_name = "emails"
PAGE_SIZE = 25


def _filtered(request):
    status = request.GET.get("status", "")
    if status not in EmailStatus.values:
        status = ""
    query = (request.GET.get("q") or "").strip()[:254]
    qs = OutboundEmail.objects.defer("body_text", "body_html").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(to__icontains=query) | Q(subject__icontains=query))
    return qs, status, query


@permission_required("emails:read")
@require_http_methods(["GET"])
def email_list(request):
    qs, status, query = _filtered(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(
        OutboundEmail.objects.values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    tabs = [("", "All", sum(counts.values()))] + [
        (value, label, counts.get(value, 0)) for value, label in EmailStatus.choices
    ]
    context = {
        "page": page,
        "status": status,
        "query": query,
        "tabs": tabs,
        "can_retry": policies.user_has(request.actor, "emails:retry"),
    }
    template = "outbox/list.html#results" if htmx_partial(request) else "outbox/list.html"
    return render(request, template, context)


@permission_required("emails:retry")
@require_POST
def email_retry(request, pk):
    email = get_object_or_404(OutboundEmail, pk=pk)
    with refusals(request=request) as outcome:
        email_services.email_retry(actor=request.actor, email=email)
    if outcome.ok:
        messages.success(request, f"The email to {email.to} is queued again.")
    return redirect(safe_back(request, reverse("emails:list"), param="back"))


urlpatterns = [
    path("", email_list, name="list"),
    path("<uuid:pk>/retry/", email_retry, name="retry"),
]
