"""What a web process does once, after Django's set-up and before its
first request (`handover.wsgi`, `handover.asgi`; the in-process benchmark
boots the same way)."""

from __future__ import annotations

import gc

from django.urls import get_resolver


def ready_to_serve() -> None:
    """Import every view (and build the API's schema) now, not in the first
    request each worker serves: that request -- a health check right after
    a deploy, a read behind waiting writes -- took seconds.

    Then move everything loaded so far out of the garbage collector's
    reach (`gc.freeze`). Django, the URLconf, the API's schema and the
    libraries are ~140,000 tracked objects that live as long as the
    process, and every full collection walked them all. Measured on the
    benchmark machine, 300 searches of the users list at 1M users each
    way: full collections took ~100 ms each (1 in 150 requests), frozen
    ~28 ms (1 in 75: a smaller old generation fills sooner); 0.37 against
    0.69 ms a request on average, the longest request 65 against 132 ms.
    Requests' own objects are collected as before."""
    get_resolver().url_patterns  # noqa: B018
    gc.collect()
    gc.freeze()
