"""In-process timings (no network, no gunicorn): each page through Django's
test client and the whole middleware stack, as a signed-in, OTP-verified
user, next to the floor view measured in the same run.

Used by `benchmarks/run.py` (section `inprocess`) and on its own, against
a seeded benchmark database, to time or profile one page:

    DATABASE_URL=postgres://.../hv_speed_bench_100000 DJANGO_SETTINGS_MODULE=benchmarks.settings \\
        .venv/bin/python benchmarks/inprocess.py --profile /users/?size=50

`--profile PATH` prints cProfile's top functions (cumulative) and the
queries the page ran; `--as org-admin` signs in as an organization's
administrator instead of the owner.

Where the time went before issue 29's changes (100,000 users, 100
organizations, 1,000,000 audit events; measured 5 Dec 2026 on 2 shared
CPUs at load average 6-9, so absolute times are 2-4x an idle machine's;
the shares are what counts). Per-template times are inclusive, from
timing `Template._render`; queries from `CaptureQueriesContext`.

users list, owner, 50 rows: 478 ms in-process vs floor 59 ms (about 7x)
  - templates 283 ms (59 %):
      filter form 133 ms: 6 <select>s, 129 <option>s, each option two
        template includes (select_option.html + attrs.html); the
        organization filter alone is 100 options (1,000 at 1M users)
      the 50 rows about 150 ms: ~40 variable lookups and filters a row
        (address x2, initials, avatar_tone, when, day, a {% url %} per
        offered action: 124 reverse() calls a page)
  - view code about 190 ms: 14 queries (session, user, OTP device, roles
    and organizations for the form, the page, roles / organizations /
    MFA for the page, axes locks, the page's permissions, an exact count
    of up to 10,001 rows then EXPLAIN, roles again); the row actions'
    guards (50 rows x 5 actions, each guard a try/except) 16-23 ms; the
    exact count 16-22 ms
  - the middleware stack is the floor's too (session, user, OTP device)
users list, an organization's administrator: 241 queries. Each row's
  guard asks `Actor.permissions_over` -> `organizations_of(user)`: one
  query per row per offered action, plus one for the organizations' names
  in each refusal's words (`lacking_organizations`)
user page: 166 ms, 21 queries; status and security sections 84 ms of
  templates; the target's permissions computed three times
  (prime_permissions for the page, for the security section and again)
audit page: 210 ms, 6 queries; the table 87 ms, filter selects 24 ms
overview: 188 ms, 6 queries (figures cached); chart cards 87 ms of
  templates (per-bar includes)

The users list again, second pass (5 Dec 2026, load average 8-24; CPU ms
a request from `thread_time`, the view's parts wrapped and timed, cProfile
for what is inside them). Owner, 50 rows, 100,000 users: list 41 vs floor
8.8 (4.7x), 12 queries:
  - templates 13.9: the 50 rows 9.5 (one lookup a value still ~30 a row),
    the filter form 3.6 (Django's select template per option, an include
    per field), base.html 1.0
  - rows 7.4: related managers made for each prefetched `roles.all()` /
    `organizations.all()`, 100 guard calls each reading the actor's person
    through request.user's lazy wrapper (2.1), dates and addresses through
    format_html / escape (lazy-string wrappers)
  - page selector 12.6 (wall-dominated): the page, prefetches of roles and
    organizations, MFA; then the rows' guards read roles and memberships
    again (prime_permissions / prime_organizations)
  - at 1M users the organization filter's 1,000 choices were normalized
    twice by Django (field and widget): 4.5-5.5 ms a request
After (rows written in Python like Django admin's change list cells, every
filter select in Python, roles and memberships read once for guards and
columns, the actor holding the user itself, choices handed over as
`core.widgets.Choices`): list 18-26 vs floor 8-11 (2.1-2.4x), 11 queries;
templates 4.5 (base 1.2), rows 5-6 (two holdings queries and the locks
are most of it), page selector 3.5.

Third pass (5 Dec 2026, load average 3-10; CPU ms from `thread_time`,
each part wrapped). Owner, 50 rows, 100,000 users: list 18.2-20.4 vs
floor 7.7-8.2 (2.45x), 11 queries. Rows 5.4 (holdings 1.8 in two
queries, locks 0.7, guards 1.0: 100 calls, row values 1.2, row markup
0.7), templates 4.5 (base 1.1, filter form 1.0 of which the search and
date inputs' templates 0.5, batch bar 0.25), page selector 3.4 (half of
it the MFA query). A query binding the page's 50 ids (`user_id__in`)
costs ~0.7 ms CPU against ~0.2 for a plain one (Django prepares each
value, psycopg binds each on the client): the page had five such lists.
At 1,000 organizations the filter's 1,000 options cost ~1.5 ms more
(read 0.4, checked 0.3, written 0.6; 60 KB). After (guards once per
standing, one holdings query carrying MFA and recent failed sign-ins
with its MFA annotation built once, locks read only for users who
tried, a search field above 200 organizations, the inputs and the batch
bar's options in Python, rows' URLs reversed once): 8 queries; CPU list
12.4-13.8 vs floor 6.6-7.6 (1.85x) at 100k, 13.4-14.6 vs 7.2-7.8
(1.87x) at 1M, interleaved with the code before (2.48x, 2.67x).

Fourth pass (5 Dec 2026, idle machine; wall ms, each part wrapped and
timed). The list sat at 1.92-2.05x its floor in `make bench`. Owner, 50
rows, 100,000 users: list 14.5-16.4 vs floor 7.2-8.0; the rows 5.5-6.2
(their holdings query 3.1-3.8: building 0.31, compiling 0.34, Django's
fetch 0.3, PostgreSQL ~0.6 to plan and run it, unpacking 0.65), the
templates 2.6 (27 argument-less `reverse()` calls 0.5: 16 `{% url %}`,
11 sidebar links), the page selector 1.7 (of which ~0.6 psycopg parsing
timestamps in Python, as the floor does: Django's timestamptz loader
subclasses psycopg's pure-Python one), the Created column's time zone
read per row 0.16. After (the holdings query compiled once per page size,
`core.compiled.Reused`; argument-less links reversed once per process,
`core.links`; the time zone read once a page): in-process A/B, each pair
in one process, saved 1.8-1.9 ms (holdings) and 0.45-0.95 ms (links);
list 13.1-15.0 vs floor 7.2-8.5 (1.77-1.84x) at 100k and 1M against
2.10-2.17x for the code before, run alternately.

Fifth pass (6 Dec 2026, a machine ~1.3-1.7x slower than the last
stop's; wall ms). The audit log's first page, 100,000 users: 50 rows
through `audit/_table.html` 4.7-4.8 ms of a ~17 ms page (the sentences
0.7 of it). After (the rows written in Python, `audit.rows`): 1.75 ms;
the page 1.71-1.76x its floor against 2.11-2.20x for the code before,
run alternately. The users list's filter choices: the generations, then
the lists keyed by them, two cache round trips; now one. The search with
filters ("lovelace" + active + viewer): its page query walks the created
index until 51 rows match (~4,900 rows at 100k, ~2,900 at 1M), each through
UPPER(email) LIKE and UPPER(name) LIKE: 8-10 ms of PostgreSQL, ~2 us a
row, most of it the heap visit (stop 30: on a copy of the 1M table with
stored upper-case columns the same walk took 5.9-9.4 ms against 7.1-12.0,
within the noise; no stored column, which would rewrite the users table). A full garbage
collection walked the ~140,000 objects loaded at boot, ~100 ms; the
process now freezes them (`handover.boot.ready_to_serve`, which this
script calls as a web process does).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

HOST = "127.0.0.1"


def signed_in_client(user):
    """A test client with `user` signed in and OTP-verified (as after the
    MFA step), talking to the allowed host."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client(HTTP_HOST=HOST)
    client.force_login(user, backend="accounts.backends.EmailBackend")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def org_admin():
    """The first active administrator of a demo organization (seed_demo
    --organizations makes each organization's first member its org-admin;
    some of them are seeded disabled or banned, and cannot sign in)."""
    from accounts.models import User

    return (
        User.objects.with_status("active")
        .filter(
            userrole__role__slug="org-admin",
            userrole__organization__slug__startswith="demo-",
        )
        .order_by("email")
        .first()
    )


def timed(client, path: str, runs: int, clock=time.perf_counter) -> list[float]:
    """Wall-clock milliseconds per request (`clock=time.thread_time`: this
    process's CPU only -- steadier on a busy machine, blind to the
    database's share)."""
    samples = []
    for _ in range(runs):
        start = clock()
        response = client.get(path)
        samples.append((clock() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def interleaved(clients_paths: dict, runs: int, clock=time.perf_counter) -> dict:
    """{name: (client, path)} -> {name: samples}, the cases interleaved so
    a burst of load on the machine falls on all of them alike."""
    for client, path in clients_paths.values():
        for _ in range(3):  # warm caches, templates, connections
            client.get(path)
    samples = {name: [] for name in clients_paths}
    for _ in range(runs):
        for name, (client, path) in clients_paths.items():
            samples[name] += timed(client, path, 1, clock)
    return samples


def profile(client, path: str, runs: int = 20, top: int = 35) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    # The project's own functions (wherever the checkout is), and the
    # database round trips.
    root = re.escape(str(Path(__file__).resolve().parent.parent))
    stats.sort_stats("cumulative").print_stats(
        rf"{root}/(accounts|rbac|core|audit|handover|webhooks)/|psycopg/connection.py.*wait", top
    )
    stats.sort_stats("tottime").print_stats(top)
    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    out.write(f"\n{len(ctx.captured_queries)} queries:\n")
    for q in ctx.captured_queries:
        out.write(f"  {q['time']}s  {q['sql'][:220]}\n")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["/users/?size=50", "/bench/floor/"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="CPU time, not wall-clock")
    parser.add_argument("--as", dest="who", default="owner", choices=["owner", "org-admin"])
    args = parser.parse_args()

    import django

    django.setup()
    from handover.boot import ready_to_serve

    ready_to_serve()
    from accounts.models import User

    user = User.objects.filter(is_owner=True).first() if args.who == "owner" else org_admin()
    if user is None:
        sys.exit(f"no {args.who} in this database: seed it first")
    client = signed_in_client(user)
    if args.profile:
        for path in args.paths:
            print(f"==== {path}")
            print(profile(client, path, runs=args.runs))
        return
    from benchmarks.run import summary

    clock = time.thread_time if args.cpu else time.perf_counter
    samples = interleaved({p: (client, p) for p in args.paths}, args.runs, clock)
    for path, values in samples.items():
        s = summary(values)
        print(f"{path:50} median {s['median']:7.1f}  p95 {s['p95']:7.1f}")


if __name__ == "__main__":
    main()


def inprocess(results, args) -> None:
    """benchmarks/run.py's in-process section: the same pages through the
    test client, interleaved, each against its baseline from this run."""
    from urllib.parse import urlencode

    from accounts.models import User
    from benchmarks.run import compare, summary
    from handover.boot import ready_to_serve

    # This process serves the pages as a web process does once booted.
    ready_to_serve()
    owner = User.objects.filter(is_owner=True).first()
    subject = (
        User.objects.filter(email__endswith="@demo.handover.local", roles__isnull=False)
        .order_by("email")
        .first()
    )
    client = signed_in_client(owner)
    users = "/users/?"
    cases = {
        "list first page": (client, users + urlencode({"size": 50})),
        "floor view": (client, "/bench/floor/"),
        "user detail": (client, f"/users/{subject.pk}/"),
        "audit first page": (client, "/audit/"),
        "overview": (client, "/"),
        "search email '12345'": (client, users + urlencode({"size": 50, "q": "12345"})),
        "search name 'lovelace'": (client, users + urlencode({"size": 50, "q": "lovelace"})),
        "search name + active + viewer": (
            client,
            users + urlencode({"size": 50, "q": "lovelace", "status": "active", "role": "viewer"}),
        ),
    }
    admin = org_admin()
    if admin is not None:
        cases["org admin's list"] = (signed_in_client(admin), users + urlencode({"size": 50}))
    print(f"in-process: {len(cases)} pages x {args.runs} runs, interleaved")
    samples = interleaved(cases, args.runs)
    for name, values in samples.items():
        results["cases"][f"in-process: {name}"] = summary(values)

    def row(name, case, baseline, **kw):
        compare(results, f"in-process: {name}", f"in-process: {case}",
                f"in-process: {baseline}", **kw)  # fmt: skip

    big = results["users"] >= 1e6
    row("list first page vs floor view", "list first page", "floor view", target=2)
    for name in ("search email '12345'", "search name 'lovelace'", "search name + active + viewer"):
        row(name, name, "list first page", p95_target_ms=30 if big else None)
    row("user page vs floor view", "user detail", "floor view", target=2.5)
    row("audit first page vs floor view", "audit first page", "floor view", target=2.5)
    row("overview vs floor view", "overview", "floor view", target=2.5)
    if admin is not None:
        row("org admin's list vs unscoped list", "org admin's list", "list first page",
            target=1.5)  # fmt: skip
