"""The JSON API: `/api/admin/...` for integrations (API keys in
`Authorization: Bearer hv_...`) and `/api/auth/...` for invited clients and
self-service resets.

Handlers parse input with a schema and call the same services as the
dashboard, so guards and audit apply unchanged. Every error is
`{"error": code, "detail": text}`; nothing a client sends produces a 500.

This module is the outer wiring: the `NinjaAPI`, its authentication, the
exception handlers and the routers. What the routers share (`ErrorOut`,
`ERRORS`, `ApiError`, `responses`) lives in `core.api_errors`, which
imports no router, so imports point one way: this module → routers →
`core.api_errors`.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from accounts.api import auth as auth_api
from accounts.api import batch as batch_api
from accounts.api import emails as emails_api
from accounts.api import invitations as invitations_api
from accounts.api import jobs as jobs_api
from accounts.api import keys as keys_api
from accounts.api import saved_views as saved_views_api
from accounts.api import user_roles as user_roles_api
from accounts.api import users as users_api
from accounts.services import throttling
from accounts.services.api_keys import api_key_authenticate
from accounts.services.invitations import InvitationForExistingAccount, InvitationInvalid
from accounts.services.mfa import CodeRefused
from accounts.services.passwords import TooManyRequests
from accounts.services.tokens import TokenInvalid
from audit import api as audit_api
from core.api_errors import CONFLICT_CODES, VALIDATION_CONFLICT_CODES, ApiError
from core.services import NotFound, ServiceBusy, as_busy, refusal_text
from rbac import api as roles_api
from rbac.api import organizations as organizations_api
from rbac.policies import PolicyDenied
from webhooks import api as webhooks_api

logger = logging.getLogger(__name__)


class ApiKeyAuth(HttpBearer):
    """API keys only in the Authorization header, never in the URL."""

    def authenticate(self, request, token):
        """The API's door: the key's `rbac.actor.Actor` becomes
        `request.auth` (and `request.actor`, as on a page); `request.user`
        is its person."""
        # An address that has presented too many wrong keys is refused
        # before any key is looked up; each wrong key counts against it.
        if throttling.api_key_refused(request):
            raise ApiError(429, "rate_limited", throttling.API_KEY_REFUSED)
        actor = api_key_authenticate(token.strip())
        if actor is None:
            throttling.api_key_failed(request)
            return None
        request.user = actor.user
        request.actor = actor
        return actor


def error(api, request, status: int, code: str, detail: str):
    return api.create_response(request, {"error": code, "detail": detail}, status=status)


# Where a value came from, left out of the field's name in an error.
_LOCATIONS = ("body", "payload", "query", "path", "filters")


def _validation_text(errors) -> str:
    parts = []
    for err in errors:
        loc = ".".join(
            str(p)
            for p in err.get("loc", ())
            if p not in ("body", "payload", "query", "path", "filters")
        )
        msg = err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "Invalid input."


# No value a client sends may hold a NUL character (PostgreSQL cannot store
# one; `RejectNullCharactersMiddleware` answers 400): the schema says so on
# every free-text string, so a client generated from it knows.
NO_NUL = "^[^\\u0000]*$"


def _no_nul(node) -> None:
    """Give every free-text string schema (no format, enum or pattern of
    its own) the NO_NUL pattern, recursively."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"format", "enum", "pattern", "const"} & set(node):
            node["pattern"] = NO_NUL
        for value in node.values():
            _no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value)


class HandoverAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path in schema["paths"].values():
            for operation in path.values():
                _no_nul(operation.get("parameters", []))
                _no_nul(operation.get("requestBody", {}))
        for component in schema.get("components", {}).get("schemas", {}).values():
            _no_nul(component)
        return schema

    def get_openapi_operation_id(self, operation) -> str:
        """`<app>_api_<handler>`, e.g. `accounts_api_list_users`: clients
        generated from the schema keep their method names however an app
        splits its API into modules (ninja's default includes the module)."""
        app = operation.view_func.__module__.split(".")[0]
        return f"{app}_api_{operation.view_func.__name__}"


api = HandoverAPI(
    title="Handover API",
    version="1.0",
    description=(
        "Manage users, roles, invitations, sessions, MFA factors, API keys and the audit "
        "log. Authenticate with `Authorization: Bearer hv_...`. Errors are "
        '`{"error": code, "detail": text}`.'
    ),
    urls_namespace="api",
    auth=ApiKeyAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)


@api.exception_handler(NinjaValidationError)
def _on_validation(request, exc):
    return error(api, request, 400, "validation_error", _validation_text(exc.errors))


@api.exception_handler(AuthenticationError)
def _on_auth(request, exc):
    return error(api, request, 401, "unauthorized", "Missing, invalid, expired or revoked API key.")


@api.exception_handler(HttpError)
def _on_http_error(request, exc):
    code = getattr(exc, "code", None) or {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        429: "rate_limited",
    }.get(exc.status_code, "error")
    return error(api, request, exc.status_code, code, str(exc))


@api.exception_handler(PolicyDenied)
def _on_denied(request, exc):
    if not exc.recorded:
        exc.record()
    status = 404 if exc.code == "not_found" else 409 if exc.code in CONFLICT_CODES else 403
    return error(api, request, status, exc.code, refusal_text(exc))


def _register_service_errors() -> None:
    """Services' own refusals, each with its status."""
    for exc_class, status, code in (
        (TokenInvalid, 400, "invalid_token"),
        (InvitationInvalid, 400, "invalid_invitation"),
        # Not for the API: the invitee accepts it signed in, on the page.
        (InvitationForExistingAccount, 409, "invitation_for_existing_account"),
        (CodeRefused, 400, "invalid_code"),
        (TooManyRequests, 429, "rate_limited"),
    ):

        def handler(request, exc, status=status, code=code):
            detail = getattr(exc, "message", None) or str(exc) or "Refused."
            return error(api, request, status, code, detail)

        api.add_exception_handler(exc_class, handler)


_register_service_errors()


@api.exception_handler(NotFound)
def _on_not_found(request, exc):
    return error(api, request, 404, "not_found", exc.message)


@api.exception_handler(Http404)
def _on_404(request, exc):
    detail = str(exc) if str(exc) and "matches the given query" not in str(exc) else "Not found."
    return error(api, request, 404, "not_found", detail)


@api.exception_handler(DjangoValidationError)
def _on_django_validation(request, exc):
    if hasattr(exc, "error_dict"):  # ValidationError({"field": "..."}, code=...)
        errors = [e for field_errors in exc.error_dict.values() for e in field_errors]
    else:
        errors = getattr(exc, "error_list", [exc])
    codes = {getattr(e, "code", None) for e in errors} | {getattr(exc, "code", None)}
    code = next((c for c in codes if c), "invalid")
    status = 409 if code in VALIDATION_CONFLICT_CODES else 400
    return error(api, request, status, code, refusal_text(exc))


@api.exception_handler(ServiceBusy)
def _on_busy(request, exc):
    response = error(api, request, 503, exc.code, exc.message)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(IntegrityError)
def _on_integrity(request, exc):
    return error(api, request, 409, "conflict", "This conflicts with existing data.")


@api.exception_handler(Exception)
def _on_unexpected(request, exc):
    busy = as_busy(exc)  # a wait that ran out; the database unreachable or read-only
    if busy is not None:
        return _on_busy(request, busy)
    logger.exception("unhandled API error")
    return error(api, request, 500, "server_error", "Something went wrong; it has been logged.")


api.add_router("/admin/users/batch", batch_api.router)
api.add_router("/admin/users", users_api.router)
api.add_router("/admin/users", user_roles_api.router)
api.add_router("/admin/invitations", invitations_api.router)
api.add_router("/admin/roles", roles_api.router)
api.add_router("/admin/organizations", organizations_api.router)
api.add_router("/admin/audit", audit_api.router)
api.add_router("/admin/api-keys", keys_api.router)
api.add_router("/admin/webhooks", webhooks_api.router)
api.add_router("/admin/emails", emails_api.router)
api.add_router("/admin/jobs", jobs_api.router)
api.add_router("/admin/views", saved_views_api.router)
api.add_router("/auth", auth_api.router)
