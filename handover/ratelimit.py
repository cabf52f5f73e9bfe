"""Fixed-window rate limits kept in the shared cache (Redis in production),
so every web process counts the same attempts."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

from audit.context import client_ip as _client_ip

DEFAULT_LIMITS = {
    # scope kind -> (attempts, window in seconds)
    "ip": (30, 600),
    "email": (5, 3600),
}


def client_ip(request) -> str:
    return _client_ip(request) or "unknown"


def _cache_key(key: str) -> str:
    return "rl:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under `key`; False when the limit is exceeded."""
    cache_key = _cache_key(key)
    cache.add(cache_key, 0, timeout=window)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window)
        count = 1
    return count <= limit


def too_many(keys) -> bool:
    """Count an attempt against each `scope:kind:value` key; True if any of
    them is over its limit (settings.RATE_LIMITS overrides the defaults)."""
    limits = {**DEFAULT_LIMITS, **getattr(settings, "RATE_LIMITS", {})}
    over = False
    for key in keys:
        kind = key.split(":")[1] if ":" in key else "ip"
        limit, window = limits.get(kind, DEFAULT_LIMITS["ip"])
        if not hit(key, limit=limit, window=window):
            over = True
    return over
