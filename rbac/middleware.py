"""Request-wide rules of the access layer."""

from __future__ import annotations

from rbac import credentials


class RequestCredentialMiddleware:
    """Marks each request as one, so that a user object acting in it without
    a credential fails closed (rbac.credentials) instead of passing for the
    operator's shell. First in the stack: every entry point runs inside."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with credentials.request_scope():
            return self.get_response(request)
