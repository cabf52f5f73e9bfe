"""One holder of the audit chain's lock cannot take the site down (issues
17, 28 F3, 29): the lock is the sealer's, and no writer of events takes it
(audit.services.sealer). With another session holding it -- a stuck
sealer, a long prune -- gunicorn answers writes, reads, sign-in and
/healthz at once; the events wait unsealed and are sealed once it is free.
Real processes: gunicorn in production mode on the test database."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from accounts.services.api_keys import api_key_create
from tests.conftest import ROOT, make_user, need, redis_available, redis_url
from tests.faults import audit_chain_hold
from tests.scale import nodes

pytestmark = [pytest.mark.slow, pytest.mark.adversarial, pytest.mark.django_db(transaction=True)]

LOCK_TIMEOUT_MS = 2000
PATIENT_LOCK_TIMEOUT_MS = 6000


@contextmanager
def _node(tmp_path, settings, lock_timeout_ms):
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL)")
    need(redis_available(), "needs Redis (REDIS_URL)")
    s = connection.settings_dict
    database_url = (
        f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )
    env = nodes.production_env(
        database_url=database_url,
        redis_url=redis_url(),
        static_root=tmp_path / "static",
        MFA_POLICY="none",
        AUDIT_LOCK_TIMEOUT_MS=lock_timeout_ms,
    )
    # One chain, one key: this process writes and verifies with the node's.
    settings.AUDIT_CHAIN_KEY = env["AUDIT_CHAIN_KEY"].encode()
    nodes.collectstatic(env)
    with nodes.web_node(env, name="busy-lock", log_dir=ROOT / "var" / "multinode", workers=3) as (
        url,
        _,
    ):
        yield url


@pytest.fixture
def node(tmp_path, builtin_roles, settings):
    with _node(tmp_path, settings, LOCK_TIMEOUT_MS) as url:
        yield url


@pytest.fixture
def patient_node(tmp_path, builtin_roles, settings):
    """Writers wait 6 s for the lock: long enough that a sign-in which
    waited for it would show, whatever the machine's load."""
    with _node(tmp_path, settings, PATIENT_LOCK_TIMEOUT_MS) as url:
        yield url


def test_a_held_audit_lock_slows_no_write_and_reads_stay_up(node):
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True)
    members = [make_user(f"m{i}@example.com") for i in range(2)]
    _key, raw = api_key_create(actor=owner, name="busy", template="full_access")
    auth = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}

    def timed(method, path):
        started = time.monotonic()
        response = requests.request(method, f"{node}{path}", headers=auth, data="{}", timeout=30)
        return response, time.monotonic() - started

    holder = audit_chain_hold()
    try:
        with ThreadPoolExecutor(4) as pool:
            writes = [
                pool.submit(timed, "POST", f"/api/admin/users/{m.pk}/disable") for m in members
            ]
            time.sleep(0.2)
            health = pool.submit(timed, "GET", "/healthz")
            read = pool.submit(timed, "GET", "/api/admin/users")
            results = [w.result() for w in writes]
            health, read = health.result(), read.result()
    finally:
        holder.rollback()
        holder.close()
    for response, seconds in results:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "disabled"
        assert seconds < LOCK_TIMEOUT_MS / 1000  # never waited for the lock
    print(
        f"FIGURE busy lock: writes {[round(s, 2) for _, s in results]}s "
        f"health {health[1]:.2f}s read {read[1]:.2f}s"
    )
    assert health[0].status_code == 200 and health[1] < 2
    assert read[0].status_code == 200 and read[1] < 2
    from audit import services as audit

    audit.seal(wait=True)  # what the worker does once the lock is free
    assert audit.unsealed() == (0, None)
    call_command("audit_verify")
    out = Path(ROOT, "var", "reliability")
    out.mkdir(parents=True, exist_ok=True)
    (out / "busy_lock.json").write_text(
        json.dumps(
            {
                "write_seconds": [round(s, 2) for _, s in results],
                "healthz_seconds": round(health[1], 2),
                "read_seconds": round(read[1], 2),
            },
            indent=2,
        )
    )


def test_sign_in_reads_and_health_stay_fast_while_writers_wait_on_the_lock(patient_node, settings):
    """Issue 28, F3: the chain's lock held for the run while 4 writers keep
    writing against 3 workers. No writer waits for it (issue 29): writes
    answer 200, reads and /healthz answer fast, and sign-in goes through;
    every event is in the log at once, unsealed, and sealed once the lock
    is free. The bars the issue sets (0.5 s for reads and /healthz) are
    the figures to read; the assertions leave room for a loaded 2-core
    machine but stay far below the 6 s a wait on the lock would cost."""
    node = patient_node
    from accounts.models import User
    from audit import services as audit
    from audit.models import AuditEvent
    from tests.conftest import STRONG_PASSWORD

    settings.PASSWORD_HASHERS = ["handover.hashers.OWASPArgon2PasswordHasher"]
    owner = make_user("owner@example.com", roles=["owner"], is_owner=True)
    members = [make_user(f"w{i}@example.com") for i in range(4)]
    people = [make_user(f"p{i}@example.com") for i in range(3)]
    _key, raw = api_key_create(actor=owner, name="busy", template="full_access")
    auth = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}

    def timed(call):
        started = time.monotonic()
        response = call()
        return response, time.monotonic() - started

    def writer(member, until):
        # Paced (about 4 writes a second each): with the lock no longer
        # stopping them, unpaced writers would measure the 2 cores' CPU,
        # not a wait on the chain.
        out = []
        while time.monotonic() < until:
            time.sleep(0.25)
            out.append(
                timed(
                    lambda: requests.post(
                        f"{node}/api/admin/users/{member.pk}/disable",
                        headers=auth,
                        data="{}",
                        timeout=30,
                    )
                )
            )
        return out

    def sign_in(person):
        browser = requests.Session()
        return timed(lambda: nodes.sign_in(browser, node, person.email, STRONG_PASSWORD))

    holder = audit_chain_hold()
    try:
        until = time.monotonic() + PATIENT_LOCK_TIMEOUT_MS / 1000 + 2
        with ThreadPoolExecutor(4 + 6) as pool:
            writers = [pool.submit(writer, m, until) for m in members]
            time.sleep(0.5)  # the writers are waiting
            sign_ins, reads, healths = [], [], []
            for person in people:
                sign_ins.append(pool.submit(sign_in, person))
                reads.append(
                    pool.submit(
                        timed,
                        lambda: requests.get(f"{node}/api/admin/users", headers=auth, timeout=30),
                    )
                )
                healths.append(
                    pool.submit(timed, lambda: requests.get(f"{node}/healthz", timeout=30))
                )
                time.sleep(0.7)
            sign_ins = [f.result() for f in sign_ins]
            reads = [f.result() for f in reads]
            healths = [f.result() for f in healths]
            writes = [row for f in writers for row in f.result()]
    finally:
        holder.rollback()
        holder.close()
    figures = {
        "writes": [r.status_code for r, _ in writes],
        "write_seconds_max": round(max(s for _, s in writes), 2),
        "sign_in_seconds": [round(s, 2) for _, s in sign_ins],
        "read_seconds": [round(s, 2) for _, s in reads],
        "healthz_seconds": [round(s, 2) for _, s in healths],
    }
    print(f"FIGURE lock under write load: {figures}")
    # Every write and sign-in finished, with success, while the lock was
    # still held (it is released below): none of them waited for it. The
    # times are CPU on a shared 2-core machine (the writers now work
    # instead of waiting), bounded below the 6 s a wait would cost.
    assert set(figures["writes"]) == {200}
    assert figures["write_seconds_max"] < PATIENT_LOCK_TIMEOUT_MS / 1000
    assert [r.status_code for r, _ in sign_ins] == [302] * len(people)
    assert max(figures["sign_in_seconds"]) < PATIENT_LOCK_TIMEOUT_MS / 1000
    assert all(r.status_code == 200 for r, _ in reads + healths)
    assert max(figures["healthz_seconds"]) < 2
    assert max(figures["read_seconds"]) < 4
    # They did not wait: their events are in the log, unsealed.
    signed_in = AuditEvent.objects.filter(action="accounts.login.succeeded")
    assert signed_in.count() == len(people)
    assert not signed_in.filter(seq__isnull=False).exists()
    # Nothing lost: sealed once the lock is free (what the worker does).
    audit.seal(wait=True)
    assert audit.unsealed() == (0, None)
    assert set(signed_in.values_list("actor_id", flat=True)) == {p.pk for p in people}
    assert audit.verify_chain().ok
    disabled = User.objects.filter(pk__in=[m.pk for m in members], disabled_at__isnull=False)
    assert disabled.count() == len(members)
    out = Path(ROOT, "var", "reliability")
    out.mkdir(parents=True, exist_ok=True)
    (out / "lock_under_write_load.json").write_text(json.dumps(figures, indent=2))
