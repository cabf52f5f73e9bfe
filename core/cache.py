"""The shared cache, degrading to "no cache" when Redis is unreachable.

Everything the project caches (overview figures, the audit action list) can
be recomputed from the database, so a read that cannot reach Redis is a miss
and a write is dropped: pages answer from the database instead of failing.
Counters are different -- a rate limit that silently stops counting fails
open -- so `add`, `incr` and `decr` still raise (at once while Redis is
skipped), and `accounts.ratelimit`
falls back to counting in the database.

Each failure is logged and remembered: for RETRY_AFTER seconds this process
does not try Redis again -- nor, when the broker is the same Redis, publish
to it: the breaker in core/tasks.py is shared both ways (a silent Redis
would otherwise cost every cache call in a request its full timeout), and
for DEGRADED_FOR seconds /healthz reports the cache as degraded without
another network round trip.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from core import tasks

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
    if _shares_the_broker():
        tasks.note_broker_failure(exc)


def _shares_the_broker() -> bool:
    location = settings.CACHES["default"].get("LOCATION")
    return bool(location) and location == settings.CELERY_BROKER_URL


def available() -> bool:
    """Whether Redis is worth trying (no failure in the last RETRY_AFTER s,
    nor a failed publish to the same Redis)."""
    if _last_failure and time.monotonic() - _last_failure < RETRY_AFTER:
        return False
    return not _shares_the_broker() or tasks.broker_available()


def degraded() -> bool:
    """Whether a cache operation failed recently in this process."""
    return bool(_last_failure) and time.monotonic() - _last_failure < DEGRADED_FOR


class _OneClientPerPool(RedisCacheClient):
    """Django builds a new `redis.Redis` for every cache call, registering
    its ~170 response callbacks each time (a tenth of an audited write's
    CPU went there, measured with cProfile): one client per connection
    pool serves every call instead -- a client takes a pooled connection
    per command and is safe to share between threads."""

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    """RedisCache whose reads miss and writes drop while Redis is down;
    `add`, `incr`, `decr` and `bump` raise (see the module docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _OneClientPerPool

    def _unless_down(self, operation: str, fallback, method, *args):
        """`method(*args)` while Redis answers; `fallback` when it is down
        (the failure noted, and Redis left alone for RETRY_AFTER)."""
        if not available():
            return fallback
        try:
            return method(*args)
        except RedisError as exc:
            note_failure(operation, exc)
            return fallback

    def _counting(self, operation: str, method, *args):
        """Counters still raise when Redis is down (see the module
        docstring), but through the same breaker: at once while it is
        open, and a failure opens it."""
        if not available():
            raise RedisConnectionError("Redis is skipped for a while after a failure")
        try:
            return method(*args)
        except RedisError as exc:
            note_failure(operation, exc)
            raise

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._counting("add", super().add, key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        return self._counting("incr", super().incr, key, delta, version)

    def decr(self, key, delta=1, version=None):
        return self._counting("decr", super().decr, key, delta, version)

    def bump(self, key, version=None) -> int:
        """Add one to the counter `key`, starting it at 1 when missing, in
        one round trip (`incr` checks that the key exists first, and raises
        when it does not)."""
        key = self.make_and_validate_key(key, version=version)
        client = self._cache.get_client(key, write=True)
        return self._counting("bump", client.incr, key)

    def get(self, key, default=None, version=None):
        return self._unless_down("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._unless_down("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._unless_down("has_key", False, super().has_key, key, version)

    def set(self, key, value, timeout=None, version=None):
        self._unless_down("set", None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=None, version=None):
        # Down, every key failed to be set.
        return self._unless_down("set_many", list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=None, version=None):
        return self._unless_down("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._unless_down("delete", False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        return self._unless_down("delete_many", None, super().delete_many, keys, version)

    def get_or_set(self, key, default, timeout=None, version=None):
        value = self.get(key, version=version)
        if value is None:
            value = default() if callable(default) else default
            if value is not None:
                self.set(key, value, timeout, version)
        return value
