"""Audit log pages: the filtered list, one event, a user's trail, export."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts import selectors as user_selectors
from audit import selectors
from audit import services as audit
from audit.forms import AuditFilterForm
from audit.models import AuditEvent
from audit.rows import event_rows_html
from audit.sentences import with_names
from core.replica import replica_reads
from core.services import refusal_text
from core.web import htmx_partial, url_maker
from rbac import policies
from rbac.decorators import permission_required
from rbac.models import Organization
from rbac.selectors import organization_suggestions

FILTER_KEYS = ("q", "actor", "target", "user", "action", "outcome", "date_from", "date_to")
FILTER_KEYS += ("batch", "ip", "organization")
# The list says how many events wait for the sealer up to this many (no
# COUNT on the page); the API's chain status gives the exact figure.
UNSEALED_SHOWN = 1000
_SAMPLE_ID = 2**62  # for `url_maker`: digits no other part of the URL has


# Up to this many organizations the filter is a select listing them all;
# above it, a search field with suggestions (`organization_options`), as
# on the users list: 1,000 options were a fifth of the page at 1M users
# and 1,000 organizations (the page 2.6x its floor; issue 29).
ORGANIZATION_SELECT_LIMIT = 200


def _filters(request):
    visible = request.actor.visible_organizations().order_by("name")
    organizations = list(visible.values_list("slug", "name")[: ORGANIZATION_SELECT_LIMIT + 1])
    search = ""
    if len(organizations) > ORGANIZATION_SELECT_LIMIT:
        # Only the chosen one, if the actor sees it (else the filter says so).
        chosen = request.GET.get("organization", "")
        organizations = list(visible.filter(slug=chosen).values_list("slug", "name"))
        search = reverse("audit:organization_options")
    form = AuditFilterForm(
        request.GET or None, organizations=organizations, organization_search=search
    )
    data = form.cleaned_data if form.is_valid() else {}
    params = {k: request.GET[k] for k in FILTER_KEYS if request.GET.get(k) and k in data}
    return form, data, params


@require_GET
@permission_required("audit:read")
@replica_reads
def event_list(request):
    form, data, params = _filters(request)
    events = (
        selectors.filter_events(data, actor=request.actor)
        if not form.errors
        else AuditEvent.objects.none()
    )
    page = selectors.page_of(
        events, before=request.GET.get("before"), after=request.GET.get("after")
    )
    query = urlencode(params)
    page.events = with_names(page.events)
    detail_url = url_maker("audit:detail", _SAMPLE_ID)
    for event in page.events:
        event.detail_url = detail_url(event.pk)
    unsealed, oldest_unsealed = audit.unsealed(cap=UNSEALED_SHOWN)
    context = {
        "unsealed": unsealed,
        "unsealed_capped": unsealed >= UNSEALED_SHOWN,
        "oldest_unsealed": oldest_unsealed,
        "form": form,
        "page": page,
        "rows_html": event_rows_html(page.events),
        "query": query,
        "filtered": bool(params),
        "can_export": policies.user_has(request.actor, "audit:export"),
    }
    template = "audit/list.html#results" if htmx_partial(request) else "audit/list.html"
    return render(request, template, context)


@require_GET
@permission_required("audit:read")
@replica_reads
def organization_options(request):
    """The organization filter's suggestions when it is a search field
    (`core.widgets.SuggestInput`): the first organizations the actor sees
    whose name or slug holds the typed text, as `<option>`s."""
    options = organization_suggestions(request.actor, request.GET.get("organization", ""))
    return render(request, "users/_organization_options.html", {"options": options})


@require_GET
@permission_required("audit:read")
def event_detail(request, pk: int):
    event = request.actor.visible_events().filter(pk=pk).first()
    if event is None:
        raise Http404("This audit event does not exist (it may have been pruned).")
    return render(
        request,
        "audit/detail.html",
        {
            "event": event,
            "diff": selectors.changes_diff(event.changes),
            # Seeing the event is seeing where it happened (its changes name
            # the organization too).
            "organization": Organization.objects.filter(pk=event.organization_id).first(),
        },
    )


@require_GET
@permission_required("audit:read")
def user_trail(request, user_id):
    return render(
        request,
        "audit/user_trail.html",
        {
            "events": with_names(selectors.user_trail(user_id, actor=request.actor)),
            "user_id": user_id,
        },
    )


@require_GET
@permission_required("audit:export")
def export(request, fmt: str):
    form, data, params = _filters(request)
    if form.errors:
        return render(
            request,
            "audit/list.html",
            {"form": form, "page": None, "query": "", "filtered": True, "can_export": True},
            status=400,
        )
    audit.record(
        "audit.log.exported",
        actor=request.actor,
        target=audit.Target(type="audit", id="", label="Audit log"),
        changes={"format": fmt, "filters": params},
    )
    rows = selectors.export_rows(selectors.filter_events(data, actor=request.actor))
    if fmt == "csv":
        body, content_type = selectors.csv_lines(rows), "text/csv; charset=utf-8"
    else:
        body, content_type = selectors.jsonl_lines(rows), "application/x-ndjson"
    response = StreamingHttpResponse(body, content_type=content_type)
    extension = "csv" if fmt == "csv" else "jsonl"
    response["Content-Disposition"] = f'attachment; filename="audit-log.{extension}"'
    response["Cache-Control"] = "no-store"
    return response


@permission_required("users:delete")
@require_http_methods(["GET", "POST"])
def user_scrub(request, user_id):
    """Erase a deleted user's personal data from the audit log (right to
    erasure): GET asks, POST does it. The service refuses (and audits) a
    user who is not deleted as invalid input (after its guard); the page says
    so instead of offering the form."""

    subject = user_selectors.user_get(user_id, actor=request.actor)
    if request.method == "POST":
        try:
            event = audit.audit_scrub_user(actor=request.actor, user_id=subject.pk)
        except ValidationError as exc:
            context = {"subject": subject, "refusal": refusal_text(exc)}
            return render(request, "audit/scrub_confirm.html", context, status=400)
        if event is None:
            messages.info(request, "Nothing left to scrub: the audit log holds no personal data.")
        else:
            scrubbed = event.changes["scrubbed"]
            messages.success(
                request,
                f"Personal data erased from {scrubbed} audit event{'s' if scrubbed != 1 else ''}.",
            )
        return redirect("users:detail", subject.pk)
    refusal = None
    if subject.deleted_at is None:
        refusal = audit.NOT_DELETED
    return render(request, "audit/scrub_confirm.html", {"subject": subject, "refusal": refusal})
