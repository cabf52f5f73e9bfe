import re
import uuid

from audit import context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when well-formed)
    and exposes ip/user agent/request id to the audit service."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        ctx = context.RequestContext(
            ip=context.client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
            request_id=request_id,
        )
        token = context.set_current(ctx)
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response
