"""Forgot-password timing: can one request tell a known address from an
unknown one? (`make bench-forgot`)

    .venv/bin/python benchmarks/forgot_timing.py                  # 100 samples per branch
    .venv/bin/python benchmarks/forgot_timing.py --samples 300

Real gunicorn in production mode (DJANGO_DEBUG=0, the Procfile's logging
options) on a dedicated PostgreSQL database `handover_bench_forgot`, Redis
as the broker (the reset emails are queued, as in production). Known and
unknown addresses are sent interleaved, to the API
(`POST /api/auth/password/forgot`) and to the page (`POST /password/forgot/`),
twice: with the padding off (PASSWORD_FORGOT_MIN_SECONDS=0: what the API
answered before the padding moved into the service) and on (the setting's
default). For each: the median of each branch, their difference, and the
machine's noise (the larger median absolute deviation of the two branches).

Output: a table on stdout and var/bench/forgot-timing.txt.
Not part of the test suite: the test is tests/accounts/test_forgot_timing.py.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import OUT, PASSWORD, database_url_for, ensure_database, manage  # noqa: E402
from tests.scale import nodes  # noqa: E402

KNOWN_EMAIL = "bench-forgot@bench.handover.local"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="requests per branch")
    return parser.parse_args(argv)


def ensure_known_user(env: dict) -> None:
    code = (
        "from accounts.models import User\n"
        f"u = User.objects.filter(email={KNOWN_EMAIL!r}).first() or "
        f"User.objects.create(email={KNOWN_EMAIL!r}, name='Bench Forgot')\n"
        f"u.set_password({PASSWORD!r}); u.save()\n"
    )
    manage(env, "shell", "-c", code)


def mad(samples: list[float]) -> float:
    middle = statistics.median(samples)
    return statistics.median(abs(s - middle) for s in samples)


def measure(base: str, samples: int) -> dict:
    import requests

    session = requests.Session()
    page = session.get(f"{base}/password/forgot/", timeout=10)
    token = CSRF.search(page.text).group(1)

    def api(email):
        return session.post(
            f"{base}/api/auth/password/forgot", json={"email": email}, timeout=30
        ).status_code

    def html(email):
        return session.post(
            f"{base}/password/forgot/",
            data={"csrfmiddlewaretoken": token, "email": email},
            headers={"Referer": f"{base}/password/forgot/"},
            timeout=30,
        ).status_code

    out = {}
    for name, send in (("api", api), ("page", html)):
        send(KNOWN_EMAIL)  # warm-up: connections, templates
        known, unknown, statuses = [], [], set()
        for _ in range(samples):
            for email, into in (
                (KNOWN_EMAIL, known),
                (f"ghost-{uuid.uuid4().hex[:12]}@bench.handover.local", unknown),
            ):
                started = time.perf_counter()
                statuses.add(send(email))
                into.append((time.perf_counter() - started) * 1000)
        out[name] = {
            "known": statistics.median(known),
            "unknown": statistics.median(unknown),
            "noise": max(mad(known), mad(unknown)),
            "statuses": sorted(statuses),
        }
    return out


def main() -> None:
    args = parse_args()
    url = database_url_for("forgot")
    ensure_database(url)
    OUT.mkdir(parents=True, exist_ok=True)
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
    base_env = nodes.production_env(
        database_url=url,
        redis_url=redis_url,
        static_root=OUT / "static",
        LOG_LEVEL="WARNING",
        PASSWORD_FORGOT_LIMIT_PER_EMAIL="1000000",
        PASSWORD_FORGOT_LIMIT_PER_IP="1000000",
    )
    manage(base_env, "migrate", "--noinput", "-v0")
    nodes.collectstatic(base_env)
    ensure_known_user(base_env)

    rows = []
    for label, pad in (("padding off (before)", "0"), ("padding on (after)", None)):
        env = dict(base_env)
        if pad is not None:
            env["PASSWORD_FORGOT_MIN_SECONDS"] = pad
        with nodes.web_node(env, name="web-forgot", log_dir=OUT / "logs", workers=1) as (base, _):
            result = measure(base, args.samples)
        for endpoint, r in result.items():
            rows.append((label, endpoint, r))

    lines = [
        f"forgot-password timing, {args.samples} interleaved requests per branch, "
        f"1 gunicorn worker, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
        f"{'setting':22} {'endpoint':8} {'known':>8} {'unknown':>8} {'diff':>7} "
        f"{'noise':>7}  below noise  statuses",
    ]
    for label, endpoint, r in rows:
        diff = r["known"] - r["unknown"]
        below = "yes" if abs(diff) < r["noise"] else "no"
        lines.append(
            f"{label:22} {endpoint:8} {r['known']:8.2f} {r['unknown']:8.2f} {diff:7.2f} "
            f"{r['noise']:7.2f}  {below:11}  {r['statuses']}"
        )
    lines.append("(medians in ms; noise = the larger median absolute deviation of the branches)")
    table = "\n".join(lines)
    print(table)
    (OUT / "forgot-timing.txt").write_text(table + "\n")


if __name__ == "__main__":
    main()
