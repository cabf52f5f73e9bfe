"""Email at the speed of SMTP (a `make bench` section, `email`): one Celery
worker delivering N queued outbox rows to a local aiosmtpd server, against
a bare smtplib loop sending the same rendered messages over one
connection; then, when the `webhooks` section ran too, webhook deliveries
per second from one worker against email from one worker ("reported").

The worker's figure covers, per message: the row claimed under lock with
its lease (a batch of EMAIL_BATCH_SIZE at a time, SKIP LOCKED), the
message built with its stored Message-ID, the SMTP exchange over the
batch's one connection (core.smtp's RFC timeouts, as in production), and
the outcome written back. Timed from the commit that queues the rows to
the server's 250 for the last one (rendering the messages, before the
commit, is the producer's work and not counted).

Standalone, on a small database of its own (migrated, no seed needed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hv_bench_email \\
    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python benchmarks/email_throughput.py
"""

from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench"


class CountingHandler:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.count += 1
        return "250 2.0.0 OK"


def email(results, env, args) -> None:
    """`args.email_runs` times: queue `args.emails` rows in one transaction
    and time until the server accepted them all; then the smtplib loop."""
    import redis
    from aiosmtpd.controller import Controller
    from django.core.mail import EmailMultiAlternatives
    from django.db import connection, transaction

    from accounts.models import OutboundEmail
    from accounts.services.emails import email_queue
    from benchmarks.run import compare, summary
    from tests.scale import nodes

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=nodes.free_port())
    controller.start()
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # no leftovers from other sections
    worker_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(controller.port),
        "EMAIL_BACKEND": "core.smtp.EmailBackend",  # as in production
    }
    concurrency = int(os.environ.get("CELERY_CONCURRENCY", "2"))
    n = args.emails

    def queue(count, tag, committed=None):
        """Queue `count` rows in one transaction; `committed` gets the time
        of its commit (the tasks are published right after it)."""
        with transaction.atomic():
            if committed is not None:  # first: it runs right after the commit
                transaction.on_commit(lambda: committed.append(time.perf_counter()))
            ids = [
                email_queue(
                    to=f"bench-{tag}-{i}@example.com",
                    template="security_notice",
                    context={"user": None, "kind": "password_changed", "headline": "Changed"},
                ).pk
                for i in range(count)
            ]
        return ids

    def wait(count, timeout=300):
        deadline = time.monotonic() + timeout
        while handler.count < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker delivered {handler.count}/{count}")
            time.sleep(0.002)

    print(f"email: {args.email_runs} x {n} messages, worker concurrency {concurrency}")
    worker_times, loop_times = [], []
    try:
        with nodes.celery_worker(
            worker_env, log_dir=OUT / "logs", name="bench-worker", concurrency=concurrency
        ):
            handler.count = 0
            queue(5, "warm")
            wait(5, timeout=120)
            for run in range(args.email_runs):
                handler.count = 0
                ids = queue(n, f"w{run}", committed := [])
                wait(n)
                worker_times.append((time.perf_counter() - committed[0]) * 1000)
                rows = list(OutboundEmail.objects.filter(pk__in=ids))
                handler.count = 0
                start = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                    for row in rows:
                        # The same message the worker sends: text and HTML,
                        # its Message-ID (the rows are not sealed).
                        message = EmailMultiAlternatives(
                            row.subject,
                            row.body_text,
                            "bench@example.com",
                            [row.to],
                            headers={"Message-ID": row.message_id},
                        )
                        message.attach_alternative(row.body_html, "text/html")
                        smtp.sendmail(
                            "bench@example.com",
                            [row.to],
                            message.message().as_bytes(linesep="\r\n"),
                        )
                loop_times.append((time.perf_counter() - start) * 1000)
    finally:
        controller.stop()
        connection.close()
    results.setdefault("cases", {})
    results.setdefault("rows", [])
    results["cases"][f"worker: {n} emails"] = summary(worker_times)
    results["cases"][f"smtplib loop: {n} emails"] = summary(loop_times)
    results["cases"]["worker: ms per email"] = summary([t / n for t in worker_times])
    w, s = statistics.median(worker_times), statistics.median(loop_times)
    # The target is on throughput (>= 0.5x the loop's): the time ratio <= 2x.
    compare(results, f"email: {n} via one worker vs smtplib loop", f"worker: {n} emails",
            f"smtplib loop: {n} emails", target=2.0,
            note=f"worker {n / w * 1000:.0f} msg/s vs smtplib {n / s * 1000:.0f} msg/s: "
            f"{s / w:.2f}x the loop's throughput (target >= 0.5x); median of "
            f"{args.email_runs} runs; worker: queue -> rows claimed in batches of "
            "EMAIL_BATCH_SIZE under lock and lease -> one SMTP connection a batch -> "
            "each outcome written back; loop: the same messages (text and HTML, "
            "Message-ID) over one connection, no bookkeeping")  # fmt: skip
    print(
        f"email: {n} via one worker {w:.0f} ms median ({n / w * 1000:.0f} msg/s) vs smtplib "
        f"loop {s:.0f} ms ({n / s * 1000:.0f} msg/s): {s / w:.2f}x"
    )


def webhooks_vs_email(results) -> None:
    """Webhook deliveries against email from one worker, per item (both
    sections must have run): reported, no target."""
    from benchmarks.run import compare

    cases = results.get("cases", {})
    if "worker: ms per webhook" not in cases or "worker: ms per email" not in cases:
        return
    hook, mail = cases["worker: ms per webhook"]["median"], cases["worker: ms per email"]["median"]
    compare(results, "webhooks vs email, one worker, per item", "worker: ms per webhook",
            "worker: ms per email",
            note=f"reported: {1000 / hook:.0f} webhook deliveries/s vs {1000 / mail:.0f} "
            "emails/s from one worker (a webhook is one checked connection and one "
            "POST a task; email goes in batches over one SMTP connection)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--email-runs", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--webhook-runs", type=int, default=3)
    parser.add_argument("--skip", default="", help="webhooks: email only")
    args = parser.parse_args()
    from tests.scale import nodes

    env = nodes.production_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
        static_root=OUT / "static",
        DATABASE_CONN_MAX_AGE="60",  # as `make bench` and production
        LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    from benchmarks.run import render

    results: dict = {
        "users": 0,
        "audit_events": 0,
        "runs": args.email_runs,
        "web_workers": 0,
        "cpus": os.cpu_count(),
        "loadavg": {"start": " ".join(f"{x:.2f}" for x in os.getloadavg())},
        "cases": {},
        "rows": [],
    }
    email(results, env, args)
    if "webhooks" not in args.skip:
        from benchmarks.webhooks import webhooks

        webhooks(results, env, args)
        webhooks_vs_email(results)
    results["loadavg"]["end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(render([results]))


if __name__ == "__main__":
    main()
