"""The shared cache, degrading to "no cache" when Redis is unreachable.

Everything the project caches (overview figures, the audit action list) can
be recomputed from the database, so a read that cannot reach Redis is a miss
and a write is dropped: pages answer from the database instead of failing.
Counters are different -- a rate limit that silently stops counting fails
open -- so `add`, `incr` and `decr` still raise, and `handover.ratelimit`
falls back to counting in the database.

Each failure is logged and remembered: for RETRY_AFTER seconds this process
does not try Redis again (a silent Redis would otherwise cost every cache
call in a request its full timeout), and for DEGRADED_FOR seconds /healthz
reports the cache as degraded without another network round trip.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Seconds a failure keeps the cache reported as degraded.
DEGRADED_FOR = 30.0
# Seconds after a failure during which Redis is not tried again.
RETRY_AFTER = 5.0
_last_failure = 0.0


def note_failure(operation: str, exc: Exception) -> None:
    """Log a Redis failure (once per spell) and mark the cache degraded."""
    global _last_failure
    now = time.monotonic()
    if now - _last_failure > DEGRADED_FOR:  # once per spell, not per call
        logger.warning("Redis unavailable (%s: %s); degraded to the database", operation, exc)
    _last_failure = now


def available() -> bool:
    """Whether Redis is worth trying (no failure in the last RETRY_AFTER s)."""
    return not _last_failure or time.monotonic() - _last_failure >= RETRY_AFTER


def degraded() -> bool:
    """Whether a cache operation failed recently in this process."""
    return bool(_last_failure) and time.monotonic() - _last_failure < DEGRADED_FOR


class ResilientRedisCache(RedisCache):
    """RedisCache whose reads miss and writes drop while Redis is down.
    `add`, `incr` and `decr` are not wrapped (see the module docstring)."""

    def get(self, key, default=None, version=None):
        if not available():
            return default
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            note_failure("get", exc)
            return default

    def get_many(self, keys, version=None):
        if not available():
            return {}
        try:
            return super().get_many(keys, version)
        except RedisError as exc:
            note_failure("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        if not available():
            return False
        try:
            return super().has_key(key, version)
        except RedisError as exc:
            note_failure("has_key", exc)
            return False

    def set(self, key, value, timeout=None, version=None):
        if not available():
            return
        try:
            super().set(key, value, timeout, version)
        except RedisError as exc:
            note_failure("set", exc)

    def set_many(self, data, timeout=None, version=None):
        if not available():
            return list(data)
        try:
            return super().set_many(data, timeout, version)
        except RedisError as exc:
            note_failure("set_many", exc)
            return list(data)

    def touch(self, key, timeout=None, version=None):
        if not available():
            return False
        try:
            return super().touch(key, timeout, version)
        except RedisError as exc:
            note_failure("touch", exc)
            return False

    def delete(self, key, version=None):
        if not available():
            return False
        try:
            return super().delete(key, version)
        except RedisError as exc:
            note_failure("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        if not available():
            return
        try:
            return super().delete_many(keys, version)
        except RedisError as exc:
            note_failure("delete_many", exc)

    def get_or_set(self, key, default, timeout=None, version=None):
        value = self.get(key, version=version)
        if value is None:
            value = default() if callable(default) else default
            if value is not None:
                self.set(key, value, timeout, version)
        return value
