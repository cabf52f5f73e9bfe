"""Users list latency: median and p95 of the full page render (view,
queries, template) for the first page, page 500, a search and a filter.

    DATABASE_URL=postgres://... python manage.py seed_demo --users 100000
    DATABASE_URL=postgres://... python benchmarks/users_list.py [--runs 30]

Runs in-process through Django's test client (no network), as the owner.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deep-page", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from accounts.selectors import UserFilters, encode_cursor, user_filter_queryset

    owner = User.objects.filter(is_owner=True).first()
    if owner is None:
        sys.exit("No owner: run `manage.py demo_owner` (or bootstrap_owner) first.")
    total = User.objects.count()
    client = Client()
    client.force_login(owner, backend="accounts.backends.EmailBackend")

    # The cursor that page N's "Next" link carries (computed once, untimed).
    size = 25
    row = (
        user_filter_queryset(UserFilters(), actor=owner)
        .order_by("-created_at", "-pk")
        .values_list("created_at", "pk")[args.deep_page * size - 1]
    )
    deep_cursor = encode_cursor("n", "-created", row[0], row[1])

    cases = {
        "first page": {},
        f"page {args.deep_page}": {"cursor": deep_cursor},
        "search 'lovelace'": {"q": "lovelace"},
        "search 'user00123'": {"q": "user00123"},
        "filter banned + viewer": {"status": "banned", "role": "viewer"},
        "filter dormant, sort email": {"inactive_before": "2025-06-01", "sort": "email"},
    }
    print(f"{connection.vendor}, {total:,} users, {args.runs} runs each, page size {size}\n")
    print(f"{'case':32} {'median ms':>10} {'p95 ms':>10} {'queries':>8}")
    for name, params in cases.items():
        client.get("/users/", params)  # warm up
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.get("/users/", params)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as ctx:
            client.get("/users/", params)
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
        median, queries = statistics.median(timings), len(ctx.captured_queries)
        print(f"{name:32} {median:10.1f} {p95:10.1f} {queries:8d}")


if __name__ == "__main__":
    main()
