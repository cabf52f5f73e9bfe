"""Project-wide request and response hygiene."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.views.defaults import page_not_found

from core.services import NotFound, PolicyDenied, ServiceBusy, as_busy
from handover.logging import TOKEN_PATH
from rbac.decorators import forbidden

_NUL_ESCAPES = (b"\\u0000", b"\x00")


_API_ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


class ApiAnswersJsonMiddleware:
    """Everything under /api/ answers JSON: an error some layer below the
    API's own handlers answered in another shape (django-ninja's "Method
    not allowed" text, a 413 from the request size limit) becomes
    `{"error", "detail"}` with the same status and headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not getattr(response, "streaming", False)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            text = response.content.decode(errors="replace").strip()
            detail = text if text and len(text) < 200 and "<" not in text else "Refused."
            answer = JsonResponse(
                {"error": _API_ERROR_CODES.get(status, "error"), "detail": detail}, status=status
            )
            for header in ("Allow", "Retry-After"):
                if header in response:
                    answer[header] = response[header]
            return answer
        return response


class RejectNullCharactersMiddleware:
    """Refuse any request carrying a NUL character in its path, query string
    or (JSON / form-encoded) body with a 400.

    No user-facing value legitimately contains one, PostgreSQL cannot store
    or even compare text containing one (psycopg raises, which would surface
    as a 500), and forms already refuse them field by field; this covers the
    API and every query parameter in one place."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "error": "validation_error",
                        "detail": "Input must not contain NUL characters.",
                    },
                    status=400,
                )
            return HttpResponseBadRequest("Input must not contain NUL characters.")
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path:
            return True
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return True
        content_type = request.META.get("CONTENT_TYPE", "")
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and content_type.startswith(
            ("application/json", "application/x-www-form-urlencoded")
        ):
            body = request.body
            if any(marker in body for marker in _NUL_ESCAPES) or b"%00" in body:
                return True
        return False


class PrivatePagesNotCachedMiddleware:
    """Pages answered to a signed-in user hold personal data: tell browsers
    and proxies not to store them (ASVS 8.2.1), unless the view already set
    its own Cache-Control."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class TokenPagesNoReferrerMiddleware:
    """A response to a URL that carries a one-time token
    (handover.logging.TOKEN_PATH: the link from the email, which the page
    answers with a redirect to its `continue` placeholder) says
    `Referrer-Policy: no-referrer`, so the token never travels on in a
    Referer. The placeholder page keeps the site-wide `same-origin`: its
    URL holds no token, and `no-referrer` would make browsers send
    `Origin: null` with its form, which CSRF protection refuses. Sits
    inside SecurityMiddleware, which only sets the site-wide policy where
    none is set yet."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if TOKEN_PATH.match(request.path_info):
            response.headers["Referrer-Policy"] = "no-referrer"
        return response


def busy_response(request, busy: ServiceBusy) -> HttpResponse:
    """503 with Retry-After: `{"error": code, "detail"}` for the API, a
    standalone page (rendered without the request: no context processor
    may touch the database that may be what is down) for everything else."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": busy.code, "detail": busy.message}, status=503)
    else:
        page = render_to_string(
            "errors/503.html",
            {
                "title": BUSY_TITLES.get(busy.code, BUSY_TITLES["busy"]),
                "message": busy.message,
                "retry_url": request.get_full_path(),
            },
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(busy.retry_after)
    add_never_cache_headers(response)
    return response


BUSY_TITLES = {
    "busy": "Busy, please retry",
    "unavailable": "Database unavailable, please retry",
    "read_only": "Read-only for now, please retry later",
}


class BusyAnswersServiceUnavailableMiddleware:
    """A request that could not get a shared resource within its bounded
    wait (the audit chain's lock, a statement over DATABASE_STATEMENT_
    TIMEOUT_MS), or found the database unreachable or read-only, answers
    503 with Retry-After, not a 500. This covers exceptions raised by a
    view; the same error raised in a middleware (the session, the user)
    reaches `handover.views.server_error` (handler500), which answers the
    same. The API answers the same through its own exception handler."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        busy = as_busy(exception)
        if busy is None:
            return None
        return busy_response(request, busy)


class ServiceRefusalMiddleware:
    """A page's answer to a service refusal its view did not turn into a
    form error (see `core.web.refusals`): `NotFound` (the object is gone)
    as Django answers Http404, with the service's words; `PolicyDenied` (a
    guard said no) as the 403 page, with the guard's words, and on the
    audit log as a denied attempt."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NotFound):
            return page_not_found(request, Http404(exception.message))
        if isinstance(exception, PolicyDenied):
            # A guard a view asked itself (outside any service) has not
            # been recorded yet; the API's handler records the same way.
            if not exception.recorded:
                exception.record()
            return forbidden(request, message=exception.message)
        return None
