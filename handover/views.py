"""The overview page and the health endpoint."""

from __future__ import annotations

import sys

from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found as html_page_not_found
from django.views.defaults import server_error as html_server_error

from accounts.security import has_mfa
from core.cache import degraded as cache_degraded
from core.replica import replica_reads
from core.services import as_busy
from handover import health
from handover.context_processors import navigation
from handover.middleware import busy_response
from handover.overview import overview_context
from rbac.decorators import public, signed_in

# What a person without the overview's figures can open, beyond their own
# account: (navigation label, what it is for).
WELCOME_AREAS = {
    "Users": "Find people and look after their accounts.",
    "Invitations": "Invite people and follow their invitations.",
    "Roles": "See the roles and what each one may do.",
    "Audit log": "Read what happened, who did it and when.",
    "API keys": "Create and revoke keys for scripts and integrations.",
    "Emails": "See the emails sent and retry the failed ones.",
    "Jobs": "Follow batch actions running in the background.",
}


@signed_in
@replica_reads
def overview(request):
    """The figures a person may read; someone who may read none of them (a
    client) is welcomed instead, with what they can do and where."""
    context = overview_context(request.actor)
    if context["has_figures"]:
        return render(request, "overview.html", context)
    areas = [
        {**item, "about": WELCOME_AREAS[item["label"]]}
        for item in navigation(request)["nav_items"]
        if item["label"] in WELCOME_AREAS
    ]
    return render(
        request, "overview/welcome.html", {"has_mfa": has_mfa(request.user), "areas": areas}
    )


def _sees_health_details(request) -> bool:
    """Operators see what the service runs on (database vendor and name,
    broker address, error class): those Django admin lets in, that is a
    management permission and an OTP-verified session (the same rule as
    `/admin/`). Everyone else, load balancers included, sees only which
    parts are up."""
    return admin.site.has_permission(request)


@public
def favicon(request):
    """Browsers ask for /favicon.ico on every site (Django admin pages name
    no icon of their own): send them to the SVG icon."""

    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@public
@never_cache
def healthz(request):
    """Whether this node can serve, within HEALTH_CHECK_BUDGET_SECONDS
    (handover/health.py). 503 when the database is unreachable or
    read-only: the node cannot do its work, a load balancer should take it
    out. Without Redis the site still serves (emails wait in the outbox,
    caches and rate limits use the database): 200 "degraded", so a Redis
    outage -- shared by every node -- does not make a balancer drop them all."""
    if not settings.REDIS_URL:
        found = health.probe(("database",))
        found["broker"] = {"ok": True, "kind": "eager"}
    else:
        found = health.probe()
        found["broker"]["kind"] = "redis"
    database, broker = found["database"], found["broker"]
    degraded = []
    if not database.get("reachable"):
        degraded.append("database-unreachable")
    elif database.get("read_only"):
        degraded.append("database-read-only")
    if not broker["ok"]:
        degraded.append("broker-unreachable")
    if cache_degraded() or (settings.REDIS_URL and not broker["ok"]):  # the same Redis
        degraded.append("cache-unreachable")
    status = "unavailable" if not database["ok"] else "degraded" if degraded else "ok"
    if database["ok"] and _sees_health_details(request):
        database.update(vendor=connection.vendor, name=str(connection.settings_dict["NAME"]))
        if settings.REDIS_URL:
            broker["url"] = settings.REDIS_URL.split("@")[-1]
        else:
            broker["detail"] = "no broker configured; tasks run in-process"
    else:
        database, broker = {"ok": database["ok"]}, {"ok": broker["ok"]}
    response = JsonResponse(
        {"status": status, "degraded": degraded, "database": database, "broker": broker},
        status=503 if status == "unavailable" else 200,
    )
    if status == "unavailable":
        response["Retry-After"] = "5"
    return response


def server_error(request):
    """handler500. A database that is unreachable or read-only (or a wait
    that ran out) raised outside a view -- loading the session or the user
    in a middleware -- is not a bug: 503 with Retry-After, as a view's own
    error is answered by `BusyAnswersServiceUnavailableMiddleware`. Any
    other error: JSON for the API, Django's page for everything else."""
    busy = as_busy(sys.exc_info()[1] or Exception())
    if busy is not None:
        return busy_response(request, busy)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": "server_error", "detail": "Something went wrong; it has been logged."},
            status=500,
        )
    return html_server_error(request)


def api_not_found(request, rest=""):
    """Every path under /api/ no operation matches: the API's JSON 404.
    (Under /api/, guarded by the API itself: no access rule of its own.)"""
    return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)


def page_not_found(request, exception):
    """JSON for the API (its clients parse every answer), the HTML page for
    everything else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    return html_page_not_found(request, exception)
