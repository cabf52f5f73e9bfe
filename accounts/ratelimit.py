"""Fixed-window rate limits kept in the shared cache (Redis in production),
so every web process counts the same attempts.

While the cache cannot be reached the same windows are counted in the
database (`accounts.RateLimitCounter`): a limit never stops counting
silently (failing open), and an outage never turns into a 500. Should the
database fail as well, the attempt is refused (`too_many` is True): the
callers -- sign-in, forgot and reset password, invitation accept -- answer a
clear 429 rather than letting attempts through uncounted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from redis.exceptions import RedisError

from accounts.models import RateLimitCounter
from audit.context import client_ip as _client_ip
from core.cache import available as cache_available
from core.cache import note_failure

logger = logging.getLogger(__name__)

DEFAULT_LIMITS = {
    # scope kind -> (attempts, window in seconds)
    "ip": (30, 600),
    "email": (5, 3600),
}
# Share of database hits that also delete expired windows.
_CLEANUP_ODDS = 0.01


def client_ip(request) -> str:
    return _client_ip(request) or "unknown"


def _cache_key(key: str) -> str:
    return "rl:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _hit_cache(cache_key: str, window: int) -> int:
    cache.add(cache_key, 0, timeout=window)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window)
        return 1


def _hit_database(cache_key: str, window: int) -> int:
    """Count one attempt in the current window, atomically: an UPDATE of an
    existing window, or the INSERT of a new one (a concurrent INSERT that
    wins the unique window makes this one update instead)."""
    now = time.time()
    start = int(now // window) * window
    digest = cache_key.removeprefix("rl:")
    rows = RateLimitCounter.objects.filter(key=digest, window_start=start)
    with transaction.atomic():
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateLimitCounter.objects.create(
                        key=digest,
                        window_start=start,
                        count=1,
                        expires_at=dt.datetime.fromtimestamp(start + window, tz=dt.UTC),
                    )
            except IntegrityError:
                rows.update(count=F("count") + 1)
        count = rows.values_list("count", flat=True).first() or 1
    if random.random() < _CLEANUP_ODDS:
        RateLimitCounter.objects.filter(expires_at__lt=dt.datetime.now(tz=dt.UTC)).delete()
    return count


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one attempt under `key`; False when the limit is exceeded (or
    when neither the cache nor the database can count it)."""
    cache_key = _cache_key(key)
    count = None
    if cache_available():
        try:
            count = _hit_cache(cache_key, window)
        except RedisError as exc:
            note_failure("rate limit", exc)
    if count is None:
        try:
            count = _hit_database(cache_key, window)
        except DatabaseError:
            logger.exception("rate limit: neither cache nor database can count; refusing")
            return False
    return count <= limit


def _count_database(cache_key: str, window: int) -> int:
    start = int(time.time() // window) * window
    digest = cache_key.removeprefix("rl:")
    row = RateLimitCounter.objects.filter(key=digest, window_start=start)
    return row.values_list("count", flat=True).first() or 0


def count(key: str, *, window: int) -> int:
    """How many attempts `hit` has counted under `key` in its current
    window, counting none. Reads where `hit` writes: the cache, or the
    database while the cache is down."""
    cache_key = _cache_key(key)
    if cache_available():
        value = cache.get(cache_key)
        if cache_available():  # the read did not just find Redis down
            return int(value or 0)
    try:
        return _count_database(cache_key, window)
    except DatabaseError:
        logger.exception("rate limit: neither cache nor database can count; refusing")
        return 2**31


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
