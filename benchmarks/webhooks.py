"""Webhook deliveries per second from one Celery worker (a `make bench`
section, `webhooks`), next to a plain loop that POSTs the same signed
bodies over one keep-alive connection with no bookkeeping.

The worker's figure (timed from the commit of the changes: writing them
and their audit events is the producer's work) covers: the task off
Redis, the row claimed under lock with its lease, the SSRF check
(resolution) and a fresh connection, the standardwebhooks signature, the
POST to a local receiver, and the outcome written back -- per delivery.

Standalone, on a small database of its own (migrated, no seed needed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hv_bench_webhooks \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python benchmarks/webhooks.py --deliveries 500
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench"


def webhooks(results, env, args) -> None:
    """Run `args.webhook_runs` times: queue `args.deliveries` deliveries in
    one transaction, time until the receiver has them all."""
    import redis
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from audit import services as audit
    from tests.scale import nodes
    from tests.webhooks.receiver import start_receiver
    from webhooks.models import WebhookDelivery, WebhookEndpoint
    from webhooks.services.deliveries import signature_headers
    from webhooks.services.endpoints import endpoint_create

    receiver, server = start_receiver()
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    worker_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "WEBHOOKS_ALLOW_PRIVATE": "1",
        "WEBHOOKS_REQUIRE_HTTPS": "0",
    }
    concurrency = int(os.environ.get("CELERY_CONCURRENCY", "2"))
    n = args.deliveries
    owner = User.objects.filter(is_owner=True).first() or User.objects.create_user(
        "bench-hooks-owner@bench.handover.local",
        password=secrets.token_urlsafe(16),
        is_owner=True,
        email_verified_at=timezone.now(),
    )
    from django.conf import settings

    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    WebhookEndpoint.objects.all().delete()
    endpoint, _secret = endpoint_create(actor=owner, url=receiver.url, description="bench")

    def queue(count, committed=None):
        """`count` audited changes in one transaction; `committed` gets the
        time of its commit (the deliveries' tasks are published after it)."""
        with transaction.atomic():
            if committed is not None:  # first: it runs right after the commit
                transaction.on_commit(lambda: committed.append(time.perf_counter()))
            for _ in range(count):
                audit.record("accounts.user.updated", actor=owner, target=owner)

    def wait(count, timeout=600):
        deadline = time.monotonic() + timeout
        while len(receiver.requests) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker delivered {len(receiver.requests)}/{count}")
            time.sleep(0.005)

    print(f"webhooks: {args.webhook_runs} x {n} deliveries, worker concurrency {concurrency}")
    worker_times, loop_times = [], []
    try:
        with nodes.celery_worker(
            worker_env, log_dir=OUT / "logs", name="bench-hooks", concurrency=concurrency
        ):
            receiver.requests.clear()
            queue(5)
            wait(5, timeout=120)
            for _run in range(args.webhook_runs):
                receiver.requests.clear()
                queue(n, committed := [])
                wait(n)
                worker_times.append((time.perf_counter() - committed[0]) * 1000)
                rows = list(WebhookDelivery.objects.select_related("endpoint").order_by("-id")[:n])
                receiver.requests.clear()
                start = time.perf_counter()
                port = server.server_address[1]
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                for row in rows:
                    headers = signature_headers(row, row.endpoint, timezone.now())
                    conn.request("POST", "/hook", body=row.payload.encode(), headers=headers)
                    conn.getresponse().read()
                conn.close()
                loop_times.append((time.perf_counter() - start) * 1000)
    finally:
        server.shutdown()
        server.server_close()
        connection.close()
    w, s = statistics.median(worker_times), statistics.median(loop_times)
    from benchmarks.run import compare, summary

    results.setdefault("cases", {})
    results.setdefault("rows", [])
    results["cases"][f"worker: {n} webhooks"] = summary(worker_times)
    results["cases"][f"POST loop: {n} webhooks"] = summary(loop_times)
    results["cases"]["worker: ms per webhook"] = summary([t / n for t in worker_times])
    compare(results, f"webhooks: {n} via one worker vs POST loop", f"worker: {n} webhooks",
            f"POST loop: {n} webhooks",
            note=f"worker {n / w * 1000:.0f} deliveries/s (task, row lock and lease, SSRF check, "
            f"signature, POST, outcome written back) vs POST loop {n / s * 1000:.0f}/s (one "
            "keep-alive connection, no bookkeeping)")  # fmt: skip
    print(
        f"webhooks: {n} via one worker {w:.0f} ms median ({n / w * 1000:.0f} deliveries/s) "
        f"vs plain POST loop {s:.0f} ms ({n / s * 1000:.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--webhook-runs", type=int, default=3)
    args = parser.parse_args()
    from tests.scale import nodes

    env = nodes.production_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
        static_root=OUT / "static",
        LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    OUT.mkdir(parents=True, exist_ok=True)
    import subprocess

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    results: dict = {}
    webhooks(results, env, args)


if __name__ == "__main__":
    main()
