"""The Jobs page: batch actions and invitation imports running in the
background, with their progress and heartbeat, and cancel / resume for
those allowed (rbac.policies: user_can_view_job, user_can_cancel_job,
user_can_resume_job); a job's page with its per-item results for those who
may read them (user_can_read_job_results). A job someone may not see does
not exist for them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import BatchJob
from accounts.selectors import jobs as job_selectors
from accounts.services import jobs as job_services
from accounts.services.actions import batch_actions
from core.services import NotFound, refusal_text
from core.web import htmx_partial
from rbac import policies
from rbac.decorators import signed_in

LIST_LIMIT = job_selectors.LIST_LIMIT


def job_url(job: BatchJob) -> str:
    if job.kind == "import":
        return reverse("invitations:import", args=[job.pk])
    return reverse("users:batch_job", args=[job.pk])


def job_label(job: BatchJob) -> str:
    if job.kind == "import":
        return "Invitation import"
    spec = batch_actions().get(job.action)
    return spec.label if spec else job.action


def visible_job(request, pk) -> BatchJob:
    """The job `pk` if the signed-in person may see it; 404 otherwise."""
    try:
        return job_selectors.job_get(pk, actor=request.actor)
    except NotFound as exc:
        raise Http404(exc.message) from None


def job_with_results(request, pk, *, kind: str) -> BatchJob:
    """The job `pk` of `kind` with its per-item results, for its page: 404
    when the person may not see it (or it is another kind); a refusal (403,
    audited) when they see it but may not read what its results list."""
    job = visible_job(request, pk)
    if job.kind != kind:
        raise Http404("This job does not exist.")
    policies.check_can_read_job_results(request.actor, job)
    return job


def describe(job: BatchJob, actor, now) -> dict:
    heartbeat = job.heartbeat_at or job.created_at
    return {
        "job": job,
        "label": job_label(job),
        "url": job_url(job),
        "heartbeat_age": int((now - heartbeat).total_seconds()) if job.is_open else None,
        "stale": bool(job.is_open and job.lease_until and job.lease_until < now),
        "can_read_results": policies.user_can_read_job_results(actor, job),
        "can_cancel": job.is_open and policies.user_can_cancel_job(actor, job),
        "can_resume": job.status in job_services.RESUMABLE
        and policies.user_can_resume_job(actor, job),
    }


@signed_in
@require_http_methods(["GET"])
def job_list(request):
    actor = request.actor
    now = timezone.now()
    rows = [describe(j, actor, now) for j in job_selectors.job_list(actor=actor, limit=LIST_LIMIT)]
    running = any(r["job"].is_open for r in rows)
    context = {"rows": rows, "running": running, "limit": LIST_LIMIT}
    if htmx_partial(request):
        return render(request, "jobs/list.html#table", context)
    return render(request, "jobs/list.html", context)


def _act(request, pk, service, done_message):
    job = visible_job(request, pk)
    try:
        service(actor=request.actor, job=job)
    except policies.PolicyDenied as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, done_message)
    return redirect(
        request.POST.get("next") if request.POST.get("next") == job_url(job) else "jobs:list"
    )


@signed_in
@require_POST
def job_cancel(request, pk):
    return _act(request, pk, job_services.job_cancel, "The job was cancelled.")


@signed_in
@require_POST
def job_resume(request, pk):
    return _act(
        request, pk, job_services.job_resume, "The job was resumed; it continues where it stopped."
    )


app_name = "jobs"
urlpatterns = [
    path("", job_list, name="list"),
    path("<uuid:pk>/cancel/", job_cancel, name="cancel"),
    path("<uuid:pk>/resume/", job_resume, name="resume"),
]
