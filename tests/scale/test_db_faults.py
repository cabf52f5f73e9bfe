"""A database that stops answering, goes read-only or restarts (issue 28,
F1, F2, F5), and a Redis partition (F4), against real processes: a
gunicorn node (gthread workers, persistent connections with health checks,
as in production) whose PostgreSQL -- or Redis -- is behind a TCP proxy
the test controls (tests/faults.py). Every request must get a clear answer
within a few seconds: 200, or 503 with Retry-After; never a 500, never a
hang. Figures go to var/reliability/db_faults.json."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.db import connection

from accounts.services.api_keys import api_key_create
from tests.conftest import ROOT, STRONG_PASSWORD, make_user, need, redis_available, redis_url
from tests.faults import TcpProxy
from tests.scale import nodes

pytestmark = [pytest.mark.slow, pytest.mark.adversarial, pytest.mark.django_db(transaction=True)]

FIGURES = Path(ROOT, "var", "reliability", "db_faults.json")
LOGS = ROOT / "var" / "db_faults"


def record(scenario: str, **figures) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    data[scenario] = figures
    FIGURES.write_text(json.dumps(data, indent=2))
    print(scenario, figures)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("static")


@pytest.fixture
def world(builtin_roles, settings):
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")
    need(redis_available(), "needs Redis (REDIS_URL)")
    settings.PASSWORD_HASHERS = ["handover.hashers.OWASPArgon2PasswordHasher"]
    settings.SECRET_KEY = "db-faults-node-secret-" + "k" * 40
    settings.AUDIT_CHAIN_KEY = ("audit-chain-" + settings.SECRET_KEY).encode()
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olive Owner")
    members = [make_user(f"m{i}@example.com", name=f"Member {i}") for i in range(4)]
    _key, raw = api_key_create(actor=owner, name="faults", template="full_access")
    return owner, members, {"Authorization": f"Bearer {raw}"}


@contextmanager
def node(settings, static_root, *, database_port=None, redis=None, **extra):
    s = connection.settings_dict
    port = database_port or s["PORT"] or 5432
    env = nodes.production_env(
        database_url=f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{port}/{s['NAME']}",
        redis_url=redis or redis_url(),
        static_root=static_root,
        secret_key=settings.SECRET_KEY,
        MFA_POLICY="none",
        # Persistent connections with health checks, as in production.
        DATABASE_CONN_MAX_AGE=60,
        **extra,
    )
    if not any(static_root.iterdir()):
        nodes.collectstatic(env)
    name = f"node-{time.monotonic_ns()}"
    with nodes.web_node(env, name=name, log_dir=LOGS, workers=3) as (url, _):
        yield url, LOGS / f"{name}.log"


@pytest.fixture
def pg_proxy():
    s = connection.settings_dict
    proxy = TcpProxy(s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)).start()
    yield proxy
    proxy.stop()


def timed(method, url, **kwargs):
    started = time.monotonic()
    try:
        response = requests.request(method, url, timeout=40, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:  # a reset or a hang counts against us
        return None, time.monotonic() - started, type(exc).__name__
    return response, time.monotonic() - started, ""


def signed_in(base, email):
    browser = requests.Session()
    answer = nodes.sign_in(browser, base, email, STRONG_PASSWORD)
    assert answer.status_code == 302, answer.text[:500]
    return browser


def _summary(results):
    return [
        (name, r.status_code if r is not None else err, round(s, 2)) for name, r, s, err in results
    ]


def test_a_half_open_database_answers_503_within_seconds_and_health_at_once(
    world, settings, static_root, pg_proxy
):
    """F1: the database accepts connections and never answers for 8 s."""
    owner, members, api = world
    with node(settings, static_root, database_port=pg_proxy.port) as (base, log):
        browser = signed_in(base, owner.email)
        cookies = browser.cookies
        assert requests.get(f"{base}/users/", cookies=cookies, timeout=10).status_code == 200
        pg_proxy.pause()  # half-open: connections stay up, nothing flows
        calls = {
            "GET /healthz": ("GET", "/healthz", {}),
            "GET /users/ (signed in)": ("GET", "/users/", {"cookies": cookies}),
            "GET /api/admin/users": ("GET", "/api/admin/users", {"headers": api}),
            "POST /api/admin/users/<id>/disable": (
                "POST",
                f"/api/admin/users/{members[0].pk}/disable",
                {"headers": {**api, "Content-Type": "application/json"}, "data": "{}"},
            ),
            "GET /login/": ("GET", "/login/", {}),
        }
        try:
            with ThreadPoolExecutor(len(calls)) as pool:
                futures = {
                    name: pool.submit(timed, method, base + path, **kw)
                    for name, (method, path, kw) in calls.items()
                }
                results = [(name, *f.result()) for name, f in futures.items()]
        finally:
            pg_proxy.resume()
        recovered = None
        started = time.monotonic()
        while time.monotonic() - started < 20:
            if requests.get(f"{base}/users/", cookies=cookies, timeout=10).status_code == 200:
                recovered = time.monotonic() - started
                break
            time.sleep(0.2)
        log_text = log.read_text(errors="replace")
    summary = _summary(results)
    print(f"FIGURE half-open database: {summary}")
    by_name = {name: (r, s) for name, r, s, _ in results}
    for name, (response, seconds) in by_name.items():
        if name == "GET /login/":  # needs no database: the sign-in page still shows
            assert response is not None and response.status_code == 200, summary
            continue
        assert response is not None and response.status_code == 503, summary
        assert response.headers["Retry-After"], summary
        assert seconds < 6, summary
    health, health_seconds = by_name["GET /healthz"]
    assert health.json()["degraded"][0] == "database-unreachable"
    assert health_seconds < 1.5
    assert by_name["GET /api/admin/users"][0].json()["error"] == "unavailable"
    assert recovered is not None
    assert "no attribute '_session_cache'" not in log_text
    record(
        "half-open database (8 s)",
        answers={name: [status, seconds] for name, status, seconds in summary},
        recovered_after_seconds=round(recovered, 2),
        errors_500=0,
    )


def test_a_read_only_database_answers_writes_503_and_health_says_so(world, settings, static_root):
    """F2: a failover to a standby (here: default_transaction_read_only on
    the database, and every session of the node ended as a failover does)."""
    owner, members, api = world
    name = connection.settings_dict["NAME"]
    json_api = {**api, "Content-Type": "application/json"}
    with node(settings, static_root) as (base, log):
        browser = signed_in(base, owner.email)
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
        try:
            writes = [
                timed("POST", f"{base}/api/admin/users/{m.pk}/disable", headers=json_api, data="{}")
                for m in members
            ]
            writes.append(
                timed(
                    "POST",
                    f"{base}/api/admin/users",
                    headers=json_api,
                    data=json.dumps({"email": "ro@example.com", "send_invite": True}),
                )
            )
            reads = [
                timed("GET", f"{base}/api/admin/users", headers=api),
                timed("GET", f"{base}/users/", cookies=browser.cookies),
            ]
            health = timed("GET", f"{base}/healthz")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        log_text = log.read_text(errors="replace")
    statuses = [r.status_code for r, _, _ in writes]
    print(f"FIGURE read-only: writes {statuses}, reads {[r.status_code for r, _, _ in reads]}")
    assert statuses == [503] * len(writes)
    assert all(r.json()["error"] == "read_only" for r, _, _ in writes)
    assert all(r.headers["Retry-After"] == "30" for r, _, _ in writes)
    assert [r.status_code for r, _, _ in reads] == [200, 200]
    assert health[0].status_code == 503 and health[1] < 1.5
    assert health[0].json()["degraded"] == ["database-read-only"]
    assert "Internal Server Error" not in log_text
    record(
        "read-only database",
        writes=f"{len(writes)} x 503 read_only (Retry-After 30)",
        reads="200",
        healthz=[503, round(health[1], 2)],
        max_write_seconds=round(max(s for _, s, _ in writes), 2),
    )


def test_a_database_restart_under_load_answers_no_500(world, settings, static_root, pg_proxy):
    """F5: every connection drops (a 0.5 s restart) while requests flow."""
    owner, members, api = world
    write = {"headers": {**api, "Content-Type": "application/json"}, "data": "{}"}
    with node(settings, static_root, database_port=pg_proxy.port) as (base, log):
        browser = signed_in(base, owner.email)
        cookies = browser.cookies
        stop = time.monotonic() + 6
        calls = [
            ("GET", "/healthz", {}),
            ("GET", "/users/", {"cookies": cookies}),
            ("GET", "/api/admin/users", {"headers": api}),
            ("POST", f"/api/admin/users/{members[1].pk}/disable", write),
            ("POST", f"/api/admin/users/{members[1].pk}/enable", write),
        ]

        def client(i):
            out = []
            n = i
            while time.monotonic() < stop:
                method, path, kw = calls[n % len(calls)]
                n += 1
                out.append((path, *timed(method, base + path, **kw)))
            return out

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(client, i) for i in range(4)]
            time.sleep(2)
            pg_proxy.kill()  # every connection drops
            time.sleep(0.5)
            pg_proxy.revive()
            results = [row for f in futures for row in f.result()]
        log_text = log.read_text(errors="replace")
    statuses = [r.status_code if r is not None else err for _, r, _, err in results]
    slowest = max(s for _, _, s, _ in results)
    counted = {str(k): statuses.count(k) for k in sorted(set(statuses), key=str)}
    print(f"FIGURE restart: {len(results)} requests {counted}, slowest {slowest:.2f}s")
    assert set(statuses) <= {200, 503}, counted
    assert all(r.headers.get("Retry-After") for _, r, _, _ in results if r.status_code == 503)
    assert "no attribute '_session_cache'" not in log_text
    assert slowest < 6
    record(
        "PostgreSQL restart (0.5 s) under load",
        requests=len(results),
        statuses=counted,
        errors_500=0,
        slowest_seconds=round(slowest, 2),
    )


def test_a_redis_partition_costs_no_request_more_than_one_and_a_half_seconds(
    world, settings, static_root
):
    """F4: Redis (cache and broker) stops answering for the whole run."""
    from accounts.models import OutboundEmail

    owner, _members, api = world
    redis_host_port = redis_url().split("//", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, port = redis_host_port.split(":")
    proxy = TcpProxy(host, int(port)).start()
    db = redis_url().rsplit("/", 1)[1]
    try:
        with node(settings, static_root, redis=f"redis://127.0.0.1:{proxy.port}/{db}") as (
            base,
            _log,
        ):
            browser = signed_in(base, owner.email)
            cookies = browser.cookies
            requests.get(f"{base}/", cookies=cookies, timeout=10)  # connections to Redis open
            proxy.pause()
            results = []
            for i in range(4):
                results.append(
                    (
                        "POST /api/admin/users (invite)",
                        *timed(
                            "POST",
                            f"{base}/api/admin/users",
                            headers={**api, "Content-Type": "application/json"},
                            data=json.dumps({"email": f"part{i}@example.com", "send_invite": True}),
                        ),
                    )
                )
                results.append(("GET /", *timed("GET", f"{base}/", cookies=cookies)))
                results.append(("GET /healthz", *timed("GET", f"{base}/healthz")))
            results.append(
                (
                    "POST /api/auth/password/forgot",
                    *timed(
                        "POST",
                        f"{base}/api/auth/password/forgot",
                        json={"email": owner.email},
                    ),
                )
            )
    finally:
        proxy.stop()
    summary = _summary(results)
    print(f"FIGURE redis partition: {summary}")
    assert all(r is not None and r.status_code < 500 for _, r, _, _ in results), summary
    slowest = max(s for _, _, s, _ in results)
    assert slowest < 1.5, summary
    pending = OutboundEmail.objects.filter(status="pending", template="invitation").count()
    assert pending == 4  # committed, waiting for the sweep
    record(
        "Redis partition (cache and broker)",
        requests=len(results),
        errors_5xx=0,
        slowest_seconds=round(slowest, 2),
        emails_pending_for_the_sweep=pending,
    )
