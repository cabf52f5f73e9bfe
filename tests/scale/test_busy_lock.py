"""One holder of the audit chain's lock cannot take the site down (issue
17): with another session holding it, gunicorn answers writes 503 "busy,
retry" within AUDIT_LOCK_TIMEOUT_MS, and reads and /healthz stay fast.
Real processes: gunicorn in production mode on the test database."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
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


@pytest.fixture
def node(tmp_path, builtin_roles, settings):
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
        AUDIT_LOCK_TIMEOUT_MS=LOCK_TIMEOUT_MS,
    )
    # One chain, one key: this process writes and verifies with the node's.
    settings.AUDIT_CHAIN_KEY = env["AUDIT_CHAIN_KEY"].encode()
    nodes.collectstatic(env)
    with nodes.web_node(env, name="busy-lock", log_dir=ROOT / "var" / "multinode", workers=3) as (
        url,
        _,
    ):
        yield url


def test_a_held_audit_lock_answers_writes_503_quickly_and_reads_stay_up(node):
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
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "busy"
        assert response.headers["Retry-After"] == "5"
        assert seconds < LOCK_TIMEOUT_MS / 1000 + 2
    assert health[0].status_code == 200 and health[1] < 2
    assert read[0].status_code == 200 and read[1] < 2
    after, _ = timed("POST", f"/api/admin/users/{members[0].pk}/disable")
    assert after.status_code == 200 and after.json()["status"] == "disabled"
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
