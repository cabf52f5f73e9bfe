"""Audited mutations per second (a `make bench` section, `writes`; issue 29):
8 concurrent clients banning and unbanning distinct users on PostgreSQL,
with the audit chain (events written unsealed, a sealer linking them as
the worker does) against the same build with the chain switched off
(AUDIT_CHAIN_ENABLED=0: events written, never sealed -- a setting only this
benchmark uses).

Each client is its own process with its own database connection, calling
the services (`user_ban` / `user_unban`, the same transaction, lock, guard
and audit event as the page and the API) as the operator's console actor,
each on its own users, as fast as it can for --seconds. With the chain on,
one more process runs the sealer in a loop, as the Celery worker does when
nudged (`audit.services.seal`); its work is on the same two cores, so it
is inside the figure. Between runs, untimed, the backlog is sealed so each
run starts from the same state; the backlog left at the end of a timed run
and the time to seal it are reported (the sealer keeping up, or not).

Modes alternate (off, on, off, on, ...) so drifting machine load hits both.
Each process also reports the CPU time it used and, when PostgreSQL runs on
this machine, the CPU time of its database backend (/proc), so the note
gives the CPU milliseconds one mutation costs all in -- a figure that a
loaded machine disturbs far less than the throughput, and that says what
the cores could do: 1000 x cores / CPU ms per mutation.
Reported as ms per mutation (1000 / throughput, so the ratio reads like
the other rows: <= 1.25 is >= 0.8x the throughput) and in the note as
mutations per second; latency of single calls in the note.

Profile that led the last changes (one client calling ban then unban in a
loop on this shared 2-core machine; cProfile with CPU time and the queries
each call runs). A ban ran 15 queries, an unban 8: the user locked, the
organizations at stake and who manages their members, the owner's status,
the update, open sessions / one-time links / live API keys (three), a
SAVEPOINT and RELEASE around the event's INSERT, the webhook endpoints, the
notice's INSERT, BEGIN and COMMIT. Client CPU went to the ORM compiling
queries (~60%), after-commit work (~20%: Redis EXISTS + INCR for the
overview's figures, SET NX for the sealer's nudge, a new `redis.Redis` built
for every cache call, the notice's Celery publish), the notice's
rendering (~7%). Now a ban runs 12 and an unban 6 (no savepoint; sessions
and keys found with one UNION ALL; one INCR; one Redis client per pool).
Measured interleaved, same load (load average 6-9): 5.2-6.2 vs 5.9-6.5 CPU
ms a mutation in the client and 1.5-1.8 vs 1.7-1.9 in its PostgreSQL
backend; cProfile counts 4.80M against 5.23M function calls for 400
mutations (-8%). In this benchmark (two pairs of runs, main then this and
reversed), with the chain: 11.9-12.8 CPU ms a mutation all in, against
13.6-15.3. 300 mutations/s on 2 cores needs <= 6.7 ms all in (clients,
PostgreSQL, Redis, the sealer), about half of what a mutation costs here.

The next round (same method; CPU per ban + unban pair timed around each
part): a ban asked "who of these users manages an organization's
members" twice, once to lock the organizations at stake and once in the
guard (2.0 ms of 10.3 a pair); the owner's row and the enabled webhook
endpoints (each event) cost 0.5 ms each, nearly all of it the ORM
compiling two statements that never change. Now the guard counts the
organizations the service locked (a ban runs 11 statements, pinned in
tests/orgs/test_status_queries.py) and those fixed statements, with the
sealer's read of the chain's tail, run SQL the ORM wrote once
(`core.compiled`). One client, interleaved with main: 3.6-4.3 against
4.7-5.1 CPU ms a mutation, its backend 1.05-1.30 against 1.23-1.50; a
seal of 4 events 1.89 against 2.22 ms. In this benchmark (two pairs,
load average 7-10): 6.96 and 7.24 CPU ms a mutation all in, against 7.88
and 8.83; a quieter pair (load average 1-7): 6.86 against 8.02, and with
the chain 282-295 mutations/s against 245-250 (without: 328-358 against
266-287). What remains in a ban, each a statement the ORM compiles (about
0.3-0.8 ms of client CPU apiece here): the user locked, who of them
manages members, open sessions and keys (one UNION ALL), one-time links,
the update, the audit event, the notice's rendering and INSERT, and after
commit the notice's Celery publish and the sealer's nudge.

The round after (stop 26; one client, each part switched off in turn and
the CPU of 1,000 mutations read, then the sealer alone on batches of 1 to
32 events): the question which organizations a ban puts at stake cost
0.44 ms of client CPU a mutation and 0.14 of its database (one query the
ORM compiles slowly: a join, a subquery, three alternatives; 0.8 ms a
ban); the live credentials' UNION ALL 0.39; the notice 0.55 (its Celery
publish 0.18); the sealer's nudge 0.07. A sealer run costs about 1.6 ms of
CPU and 1 ms of its database whatever it seals: 0.57 ms an event at the 4
events a run it was sealing here, 0.21 at 16. Now a ban reads the user's
memberships first (nothing more for a user in none; 0.25 ms less client
CPU a mutation, 0.1 less database) and the sealer starts
AUDIT_SEAL_DELAY_MS (50) after the nudge, so a run seals what committed
meanwhile (here 15-30 events). This benchmark, main against the commit
before, one after the other on an idle machine: with the chain 435 against
370 mutations/s, CPU all in 4.53 ms a mutation against 5.33 (the sealer
and its database 0.20 against 0.66).

Stop 29 (one client, cProfile with CPU time, 600 mutations; shares of
the client's CPU): the audit event's INSERT 19 %, the ban's live
sessions and keys 12.5 % (a UNION ALL of two annotated reads, nearly all
of it the ORM compiling it), the notice 14 % (its rendering 9 %), the
user's locking read 15 %, the webhook endpoints 7 %, the ban's
memberships 6 %, the owner's row 4.5 % (a RawQuerySet's set-up). Now
the locking read, the live credentials and the memberships are compiled
once (core.compiled: ReusedInstances, Reused) and Compiled makes whole
instances without a RawQuerySet. One client, interleaved with the code
before, 3.7-4.5 against 4.9-7.2 CPU ms a mutation; this benchmark,
interleaved (two pairs, 2 runs each, on a machine growing slower
through the hour): 226 and 203 mutations/s with the chain against 198
and 162, the clients' CPU 5.99 and 6.70 ms a mutation against 7.51 and
8.89. 300/s on 2 cores needs <= 6.7 ms all in; here it was 8.6-9.6.

Stop 31 (this benchmark standalone, 2 runs a mode, AUDIT_SEAL_DELAY_MS
50 and 200 alternating, four times): at ~250 mutations a second a run
every 50 ms sealed ~12 events, and the sealer with its database cost
0.44-0.64 CPU ms a mutation; every 200 ms, ~50 events a run, 0.23-0.26.
The default is now 200: the events are in the log at once, their seal and
the webhooks that wait for it come ~0.15 s later. The throughputs of the
four pairs (chain / no chain: 302/318, 278/271, 245/291, 258/273) moved
with the machine more than with the setting.

Then (stop 31, cProfile of bulk_create for one audit event, 500 rows):
of ~0.55 ms of client CPU an insert, about half was the ORM building and
assembling the statement's text. An audited write's one event and an
outbound email are now inserted with the text the ORM wrote for the first
row (`core.compiled.Inserted`; each row's values still prepared by the
fields): one insert 0.31-0.36 against 0.44-0.47 ms; one client, the two
paths switched in one process, 2.57 against 2.76 CPU ms a mutation (8
alternating blocks of 200, lower in 7).

Stop 32 (one client, 4 alternating blocks of 200 mutations in one
process, the client's CPU and its database backend's): parameters bound
in the client (Django's default) 2.64 + 1.29 ms a mutation; bound by the
server 2.57 + 1.35; bound by the server with the statements prepared
2.33 + 0.75; prepared but planned for every execution
(plan_cache_mode=force_custom_plan) 2.49 + 1.10 -- most of the saving is
the plan PostgreSQL reuses for a statement that reads or writes a row by
key. Now a statement a service runs DATABASE_PREPARE_THRESHOLD (5) times
on its connection is prepared (`core.services`); pages' searches are
not. This benchmark standalone, the threshold 0 and 5 alternating twice
(a machine faster than the last stops'): with the chain 324-334 against
359-406 mutations/s, CPU all in 5.81-5.95 against 4.78-5.14 ms.

Standalone, on a small database of its own (migrated, no seed needed):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hv_bench_writes \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python benchmarks/audit_writes.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench"
CLIENTS = 8
USERS_PER_CLIENT = 10
DOMAIN = "writes.bench.handover.local"


def _email(client: int, i: int) -> str:
    return f"w{client}-{i}@{DOMAIN}"


def _owner():
    from accounts.models import User

    return User.objects.filter(is_owner=True).first() or User.objects.create(
        email=f"owner@{DOMAIN}", name="Bench Owner", is_owner=True
    )


def prepare(clients: int) -> None:
    from accounts.models import User

    _owner()
    for c in range(clients):
        for i in range(USERS_PER_CLIENT):
            User.objects.update_or_create(
                email=_email(c, i), defaults={"name": "Bench", "banned_until": None}
            )


def client_main(args) -> None:
    """One client: ban and unban its own users until the deadline; prints
    its call latencies (ms) as JSON."""
    import django

    django.setup()
    from accounts.models import User
    from accounts.services.users import user_ban, user_unban
    from rbac.actor import Actor

    actor = Actor.console(_owner())
    users = list(User.objects.filter(email__startswith=f"w{args.client}-", email__endswith=DOMAIN))
    assert users, "no benchmark users"
    samples = []
    end = _ready_then_start() + args.seconds
    cpu = _cpu_now()
    while time.time() < end:
        for user in users:
            for call in (user_ban, user_unban):
                started = time.perf_counter()
                call(actor=actor, user=user, reason="bench")
                samples.append((time.perf_counter() - started) * 1000)
            if time.time() >= end:
                break
    print(json.dumps({"samples": samples, **_cpu_since(cpu)}))


def _backend_cpu() -> float | None:
    """CPU seconds this process's PostgreSQL backend has used, when the
    server runs on this machine (its /proc entry); else None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_now() -> tuple[float, float | None]:
    return time.process_time(), _backend_cpu()


def _cpu_since(start) -> dict:
    """CPU seconds used since `start` (`_cpu_now`) here and by the backend."""
    cpu, db = _cpu_now()
    return {
        "cpu_s": cpu - start[0],
        "db_cpu_s": None if db is None or start[1] is None else db - start[1],
    }


def sealer_main(args) -> None:
    """The worker's job, in a loop, at the worker's pace: a run starts
    AUDIT_SEAL_DELAY_MS after the first commit following the previous run's
    start (the nudge's countdown; under a steady stream of writes that is
    the delay after the previous start, or at once when a run took longer)."""
    import django

    django.setup()
    from django.conf import settings

    from audit.services import seal

    delay = settings.AUDIT_SEAL_DELAY_MS / 1000
    sealed = 0
    end = _ready_then_start() + args.seconds
    cpu = _cpu_now()
    while time.time() < end:
        started = time.monotonic()
        done = seal(wait=True)
        sealed += done
        time.sleep(max(0.0 if done else 0.02, started + delay - time.monotonic()))
    print(json.dumps({"sealed": sealed, **_cpu_since(cpu)}))


def _ready_then_start() -> float:
    """Say ready (Django set up), wait for the common start time, return it."""
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    while time.time() < start:
        time.sleep(0.005)
    return start


def _spawn(env, *argv):
    return subprocess.Popen(
        [sys.executable, __file__, *argv],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def one_run(env, *, chain: bool, seconds: float, clients: int) -> dict:
    from audit.services import seal, unsealed

    run_env = {**env, "AUDIT_CHAIN_ENABLED": "1" if chain else "0"}
    procs = [_spawn(run_env, "--client", str(c), "--seconds", str(seconds)) for c in range(clients)]
    if chain:
        procs.append(_spawn(run_env, "--sealer", "--seconds", str(seconds)))
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    start = time.time() + 0.5
    for proc in procs:
        proc.stdin.write(f"{start}\n")
        proc.stdin.flush()
    sealer = procs.pop() if chain else None
    samples = []
    cpu = {"clients": 0.0, "clients_db": 0.0, "sealer": 0.0, "sealer_db": 0.0}
    db_seen = True
    for proc in procs:
        out, _ = proc.communicate()
        assert proc.returncode == 0, "a client failed"
        report = json.loads(out)
        samples.extend(report["samples"])
        cpu["clients"] += report["cpu_s"]
        cpu["clients_db"] += report["db_cpu_s"] or 0.0
        db_seen = db_seen and report["db_cpu_s"] is not None
    sealed_live = 0
    if sealer is not None:
        out, _ = sealer.communicate()
        report = json.loads(out)
        sealed_live = report["sealed"]
        cpu["sealer"] = report["cpu_s"]
        cpu["sealer_db"] = report["db_cpu_s"] or 0.0
    backlog, _oldest = unsealed()
    started = time.perf_counter()
    seal(wait=True)  # untimed for the row: the next run starts level
    drain_ms = (time.perf_counter() - started) * 1000
    return {
        "rate": len(samples) / seconds,
        # CPU ms one mutation cost each part (the database's: None when
        # PostgreSQL is not on this machine).
        "cpu_ms": {
            part: (total * 1000 / len(samples) if db_seen or "db" not in part else None)
            for part, total in cpu.items()
        },
        "samples": samples,
        "sealed_live": sealed_live,
        "backlog": backlog,
        "drain_ms": drain_ms,
    }


def writes(results, env, args) -> None:
    """Alternate chain-off and chain-on runs; add the row to `results`."""
    from django.db import connection

    from audit.services import seal, verify_chain
    from benchmarks.run import compare, summary

    prepare(CLIENTS)
    seal(wait=True)
    connection.close()
    runs = {"off": [], "on": []}
    print(f"writes: {args.write_runs} x ({CLIENTS} clients x {args.write_seconds}s, off then on)")
    for _ in range(args.write_runs):
        for mode in ("off", "on"):
            run = one_run(env, chain=mode == "on", seconds=args.write_seconds, clients=CLIENTS)
            runs[mode].append(run)
            print(
                f"  chain {mode}: {run['rate']:.0f} mutations/s"
                + (
                    f", sealed live {run['sealed_live']}, backlog {run['backlog']} "
                    f"sealed in {run['drain_ms']:.0f} ms"
                    if mode == "on"
                    else ""
                )
            )
    seal_rate = sealer_rate()
    report = verify_chain()
    connection.close()
    for mode, name in (
        ("on", "audited mutations (chain)"),
        ("off", "audited mutations (no chain)"),
    ):
        rates = [r["rate"] for r in runs[mode]]
        results["cases"][name] = summary([1000 / r for r in rates])
        results["cases"][name]["rates"] = rates
        results["cases"][name]["latency"] = summary([s for r in runs[mode] for s in r["samples"]])
    on, off = (
        results["cases"]["audited mutations (chain)"],
        results["cases"]["audited mutations (no chain)"],
    )
    rate_on = statistics.median(on["rates"])
    rate_off = statistics.median(off["rates"])
    backlogs = [r["backlog"] for r in runs["on"]]
    cpu = {mode: _cpu_per_mutation(runs[mode]) for mode in runs}
    compare(
        results,
        f"{CLIENTS} clients ban/unban: ms per mutation",
        "audited mutations (chain)",
        "audited mutations (no chain)",
        target=1.25,
        note=f"chain {rate_on:.0f} mutations/s vs no chain {rate_off:.0f} mutations/s = "
        f"{rate_on / rate_off:.2f}x (target >= 0.8x and >= 300/s: "
        f"{'yes' if rate_on / rate_off >= 0.8 and rate_on >= 300 else 'no'}); "
        f"call latency p50/p95 {on['latency']['median']:.1f}/{on['latency']['p95']:.1f} ms vs "
        f"{off['latency']['median']:.1f}/{off['latency']['p95']:.1f} ms; backlog at the end of "
        f"each chained run {backlogs} (the sealer shares the cores); "
        f"chain verified after: {report.ok}, {report.checked} events; the sealer alone "
        f"seals {seal_rate:.0f} events/s (one process, 5,000 waiting events); "
        f"CPU ms per mutation (median of runs), chain: {_cpu_words(cpu['on'])}; "
        f"no chain: {_cpu_words(cpu['off'])}",
    )
    results["cpu_ms_per_mutation"] = cpu
    row = results["rows"][-1]
    row["target"] += " and >= 300/s"
    row["holds"] = bool(row.get("holds")) and rate_on >= 300


def _cpu_per_mutation(runs) -> dict:
    """Each part's CPU ms per mutation, the median over `runs`."""
    parts = runs[0]["cpu_ms"]
    return {
        part: (
            statistics.median(r["cpu_ms"][part] for r in runs) if parts[part] is not None else None
        )
        for part in parts
    }


def _cpu_words(cpu: dict) -> str:
    """ "clients 5.1 + their database 1.8 + sealer 0.2 + its database 0.1 =
    7.2 ms (at most 278/s on 2 cores)" -- the database's parts left out
    when PostgreSQL is not on this machine."""
    names = {
        "clients": "clients",
        "clients_db": "their database",
        "sealer": "sealer",
        "sealer_db": "its database",
    }
    parts = [(names[p], ms) for p, ms in cpu.items() if ms is not None and ms > 0]
    total = sum(ms for _, ms in parts)
    cores = os.cpu_count() or 1
    return (
        " + ".join(f"{name} {ms:.2f}" for name, ms in parts)
        + f" = {total:.2f} ms (at most {1000 * cores / total:.0f}/s on {cores} idle cores)"
    )


def sealer_rate(n: int = 5000) -> float:
    """Events per second one sealer links: `n` events written unsealed
    (chain off), then timed while `seal` links them all."""
    from django.conf import settings

    from audit.services import EventSpec, record_many, seal

    settings.AUDIT_CHAIN_ENABLED = False
    try:
        for _ in range(n // 500):
            record_many([EventSpec(action="accounts.user.banned", reason="bench sealer")] * 500)
    finally:
        settings.AUDIT_CHAIN_ENABLED = True
    started = time.perf_counter()
    sealed = seal(wait=True, max_batches=10_000)
    return sealed / (time.perf_counter() - started)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-runs", type=int, default=3)
    parser.add_argument("--write-seconds", type=float, default=10)
    parser.add_argument("--client", type=int)
    parser.add_argument("--sealer", action="store_true")
    parser.add_argument("--seconds", type=float)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.client is not None:
        client_main(args)
        return
    if args.sealer:
        sealer_main(args)
        return
    from tests.scale import nodes

    env = nodes.production_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"),
        static_root=OUT / "static",
        secret_key="bench-writes-secret-key-" + "x" * 30,
        LOG_LEVEL="WARNING",
        DATABASE_CONN_MAX_AGE="60",
    )
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)  # fmt: skip
    import django

    django.setup()
    from benchmarks.run import render

    results = {
        "users": CLIENTS * USERS_PER_CLIENT,
        "audit_events": 0,
        "runs": args.write_runs,
        "web_workers": 0,
        "cpus": os.cpu_count(),
        "loadavg": {"start": " ".join(f"{x:.2f}" for x in os.getloadavg())},
        "cases": {},
        "rows": [],
        "notes": {},
    }
    writes(results, env, args)
    results["loadavg"]["end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    table = render([results])
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "writes-latest.txt").write_text(table + "\n")
    (OUT / "writes-latest.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
