"""The overview page and the health endpoint."""

from __future__ import annotations

import sys

import redis
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found as html_page_not_found
from django.views.defaults import server_error as html_server_error

from core.services import as_busy
from core.cache import degraded as cache_degraded
from handover.middleware import busy_response
from handover.overview import overview_context
from rbac.decorators import public, signed_in


@signed_in
def overview(request):

    return render(request, "overview.html", overview_context(request.user))


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {
            "ok": True,
            "vendor": connection.vendor,
            "name": str(connection.settings_dict["NAME"]),
        }
    except Exception as exc:  # reported, not raised: this is the health check
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}


def _broker_status() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "kind": "eager", "detail": "no broker configured; tasks run in-process"}

    url = settings.REDIS_URL
    safe_url = url.split("@")[-1]
    try:
        # The same bounded waits as every other Redis call (1 s by default),
        # so a silent Redis costs the health check one timeout, not more.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        client.ping()
        return {"ok": True, "kind": "redis", "url": safe_url}
    except Exception as exc:
        return {"ok": False, "kind": "redis", "url": safe_url, "error": exc.__class__.__name__}


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
    database = _database_status()
    broker = _broker_status()
    # Without Redis the site still serves (emails wait in the outbox, caches
    # and rate limits use the database): "degraded", not down, so a load
    # balancer keeps the node. Without the database it cannot serve.
    degraded = []
    if not broker["ok"]:
        degraded.append("broker")
    if cache_degraded() or (settings.REDIS_URL and not broker["ok"]):  # the same Redis
        degraded.append("cache")
    status = "unavailable" if not database["ok"] else "degraded" if degraded else "ok"
    if not _sees_health_details(request):
        database, broker = {"ok": database["ok"]}, {"ok": broker["ok"]}
    return JsonResponse(
        {"status": status, "degraded": degraded, "database": database, "broker": broker},
        status=503 if status == "unavailable" else 200,
    )


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


def page_not_found(request, exception):
    """JSON for the API (its clients parse every answer), the HTML page for
    everything else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    return html_page_not_found(request, exception)
