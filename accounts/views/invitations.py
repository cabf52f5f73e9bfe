"""The invitations page: invite one or many people (a pasted list or a CSV
checked row by row before anything is sent), follow their status and
delivery, resend or revoke."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors
from accounts.forms import InviteForm
from accounts.models import Invitation, OutboundEmail
from accounts.services import invitation_import as import_services
from accounts.services import invitations as services
from accounts.views.jobs import describe, job_with_results
from core.web import htmx_partial, refusals, safe_back
from rbac import policies
from rbac.decorators import permission_required

app_name = "invitations"
PAGE_SIZE = 25
INLINE_LIMIT = import_services.INLINE_LIMIT  # larger imports run as a background job
SESSION_KEY = "_invitation_import"
STATUSES = [
    ("", "All"),
    ("pending", "Pending"),
    ("accepted", "Accepted"),
    ("expired", "Expired"),
    ("revoked", "Revoked"),
]


def invitations_with_delivery(qs):
    """Annotate each invitation with the status of its latest email."""
    latest = OutboundEmail.objects.filter(
        user_id=OuterRef("user_id"), template__in=["invitation", "magic_link_invite"]
    ).order_by("-created_at")
    return qs.annotate(
        delivery=Subquery(latest.values("status")[:1]),
        delivery_error=Subquery(latest.values("last_error")[:1]),
    )


def _list_context(request, form=None):
    status = request.GET.get("status", "")
    if status not in dict(STATUSES):
        status = ""
    query = (request.GET.get("q") or "").strip()[:254]
    qs = Invitation.objects.select_related("invited_by").prefetch_related("roles")
    if status:
        qs = qs.with_status(status)
    if query:
        qs = qs.filter(Q(email__icontains=query) | Q(name__icontains=query))
    qs = invitations_with_delivery(qs).order_by("-created_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    can_create = policies.user_has(request.actor, "invitations:create")
    return {
        "page": page,
        "status": status,
        "query": query,
        "statuses": STATUSES,
        "form": form if form is not None else (InviteForm() if can_create else None),
        "can_create": can_create,
        "can_revoke": policies.user_has(request.actor, "invitations:revoke"),
    }


@permission_required("invitations:read")
@require_http_methods(["GET"])
def invitation_list(request):
    context = _list_context(request)
    if htmx_partial(request):
        return render(request, "invitations/list.html#results", context)
    return render(request, "invitations/list.html", context)


@permission_required("invitations:create")
@require_POST
def invitation_preview(request):
    """Check every row and show the report; nothing is sent yet."""
    form = InviteForm(request.POST, request.FILES)
    rows = None
    if form.is_valid():
        try:
            rows = form.rows()
        except ValidationError as exc:
            form.add_error(None, exc)
    if rows is None:
        return render(request, "invitations/list.html", _list_context(request, form), status=400)
    template = form.cleaned_data.get("template") or None
    with refusals(form) as outcome:
        rows = import_services.invitation_rows_validate(
            actor=request.actor, rows=rows, template=template
        )
    if not outcome.ok:
        return render(
            request, "invitations/list.html", _list_context(request, form), status=outcome.status
        )
    good = [r.as_dict() for r in rows if r.ok]
    request.session[SESSION_KEY] = {
        "rows": good,
        "template": template,
        "expires_days": form.cleaned_data["expires_days"],
    }
    return render(
        request,
        "invitations/preview.html",
        {"rows": rows, "good": len(good), "bad": len(rows) - len(good), "template": template},
    )


@permission_required("invitations:create")
@require_POST
def invitation_send(request):
    pending = request.session.pop(SESSION_KEY, None)
    if not pending or not pending.get("rows"):
        messages.error(request, "Nothing to send: review the addresses again.")
        return redirect("invitations:list")
    rows = pending["rows"]
    expires_in = timedelta(days=int(pending.get("expires_days") or settings.INVITATION_TTL.days))
    if len(rows) <= INLINE_LIMIT:
        results = [
            import_services.invitation_import_row(
                actor=request.actor,
                row=row,
                template=pending.get("template"),
                expires_in=expires_in,
                with_link=True,
            )
            for row in rows
        ]
        return render(request, "invitations/results.html", _results_context(results))
    job = import_services.invitation_import_start(
        actor=request.actor,
        rows=rows,
        template=pending.get("template"),
        expires_days=expires_in.days,
    )
    return redirect("invitations:import", pk=job.pk)


def _results_context(results, job=None):
    sent = sum(1 for r in results if r.get("ok"))
    return {"results": results, "sent": sent, "failed": len(results) - sent, "job": job}


@permission_required("invitations:create")
@require_http_methods(["GET"])
def invitation_import(request, pk):
    job = job_with_results(request, pk, kind="import")
    results = (job.result or {}).get("items", [])
    context = {
        **_results_context(results, job),
        "job": job,
        "row": describe(job, request.actor, timezone.now()),
    }
    if htmx_partial(request) and job.is_open:
        return render(request, "invitations/results.html#progress", context)
    if htmx_partial(request):
        response = render(request, "invitations/results.html#progress", context)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "invitations/results.html", context)


@permission_required("invitations:create")
@require_POST
def invitation_resend(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    with refusals(request=request) as outcome:
        services.invitation_resend(actor=request.actor, invitation=invitation)
    if outcome.ok:
        messages.success(
            request,
            f"Invitation to {invitation.email} sent again. The previous link no longer works.",
        )
    return redirect(safe_back(request, reverse("invitations:list"), param="back"))


@permission_required("invitations:revoke")
@require_http_methods(["GET", "POST"])
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    if request.method == "GET":
        return render(request, "invitations/revoke_confirm.html", {"invitation": invitation})
    with refusals(request=request) as outcome:
        services.invitation_revoke(actor=request.actor, invitation=invitation)
    if outcome.ok:
        messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect(safe_back(request, reverse("invitations:list"), param="back"))


@permission_required("invitations:read")
@require_http_methods(["GET"])
def invitations_for_user(request, user_id):
    """The user page's invitations section (fragment)."""
    subject = selectors.user_get(user_id, actor=request.actor)
    invitations = invitations_with_delivery(
        Invitation.objects.filter(user=subject)
        .select_related("invited_by")
        .prefetch_related("roles")
    ).order_by("-created_at")[:20]
    return render(
        request,
        "invitations/for_user.html",
        {
            "subject": subject,
            "invitations": invitations,
            "can_create": policies.user_has(request.actor, "invitations:create"),
            "can_revoke": policies.user_has(request.actor, "invitations:revoke"),
        },
    )


urlpatterns = [
    path("", invitation_list, name="list"),
    path("preview/", invitation_preview, name="preview"),
    path("send/", invitation_send, name="send"),
    path("import/<uuid:pk>/", invitation_import, name="import"),
    path("<uuid:pk>/resend/", invitation_resend, name="resend"),
    path("<uuid:pk>/revoke/", invitation_revoke, name="revoke"),
    path("user/<uuid:user_id>/", invitations_for_user, name="for_user"),
]
