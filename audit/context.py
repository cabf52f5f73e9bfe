"""Where the current request came from, for audit rows written deep inside
services. Set by `audit.middleware.RequestContextMiddleware`; empty for
Celery tasks and management commands (recorded as the system)."""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_current: ContextVar[RequestContext] = ContextVar("audit_request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext):
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the address the trusted proxies saw. X-Forwarded-For is
    only believed for as many hops as TRUSTED_PROXY_COUNT says, so a client
    cannot spoof its address (and its lockout counter) with a header."""
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        chain = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [p for p in chain if p]
        if len(chain) >= hops:
            remote = chain[-hops]
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None


def client_ip_for_axes(request) -> str:
    return client_ip(request) or "0.0.0.0"  # noqa: S104 (an address, not a bind)
