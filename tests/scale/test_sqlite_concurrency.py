"""The SQLite default handles the concurrent use a demo gets: batch actions
and invitations fired at once from many threads at a real gunicorn node on a
SQLite file answer without a single "database is locked" 500 (WAL mode, a
busy timeout and IMMEDIATE transactions; see DATABASES in settings.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import ROOT
from tests.scale import nodes

pytestmark = [pytest.mark.slow]

SETUP = """
import django, json; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.conftest import make_user
from accounts.services.api_keys import api_key_create
make_user("owner@example.com", roles=["owner"], is_owner=True)
admin = make_user("admin@example.com", roles=["admin"])
members = [str(make_user(f"m{i}@example.com").pk) for i in range(40)]
_key, raw = api_key_create(actor=admin, name="sqlite", template="full_access")
print(json.dumps({"key": raw, "members": members}))
"""


def test_concurrent_batches_and_invitations_on_sqlite_do_not_500(tmp_path):
    env = nodes.production_env(
        database_url=f"sqlite:///{tmp_path / 'handover.sqlite3'}",
        redis_url="",
        static_root=tmp_path / "static",
        MFA_POLICY="none",
        CELERY_TASK_ALWAYS_EAGER="1",
    )
    setup = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    data = json.loads(setup.stdout.strip().splitlines()[-1])
    headers = {"Authorization": f"Bearer {data['key']}"}
    members = data["members"]
    nodes.collectstatic(env)

    with nodes.web_node(env, name="sqlite", log_dir=tmp_path, workers=4) as (base, _):
        calls = []
        for i in range(24):
            calls.append(
                ("POST", "/api/admin/users", {"email": f"new{i}@example.com", "send_invite": True})
            )
        for i in range(24):
            action = ("ban", "unban", "disable", "enable")[i % 4]
            chunk = members[(i % 8) * 5 : (i % 8) * 5 + 5]
            body = {"user_ids": chunk, "reason": "load"}
            if action == "ban":
                body["duration_hours"] = 1
            calls.append(("POST", f"/api/admin/users/batch/{action}", body))
        calls = calls[::2] + calls[1::2]  # interleave invitations and batches
        statuses: list[int] = []
        errors: list[str] = []
        barrier = threading.Barrier(16)

        def worker(mine):
            barrier.wait()
            for method, path, body in mine:
                try:
                    response = requests.request(
                        method, f"{base}{path}", json=body, headers=headers, timeout=60
                    )
                    statuses.append(response.status_code)
                    if response.status_code >= 500:
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                except requests.RequestException as exc:
                    errors.append(f"{path}: {exc}")

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(calls[i::16],)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        log = (tmp_path / "sqlite.log").read_text(errors="replace")

    print(
        f"FIGURE sqlite: {len(statuses)} concurrent requests in {elapsed:.1f}s, "
        f"statuses {sorted(set(statuses))}, 5xx {sum(s >= 500 for s in statuses)}"
    )
    assert not errors, errors[:5]
    assert len(statuses) == len(calls)
    assert all(status < 500 for status in statuses)
    assert statuses.count(201) == 24  # every invitation made
    assert "database is locked" not in log
