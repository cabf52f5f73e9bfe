"""Start Handover as real processes (gunicorn web nodes, a Celery worker)
against one PostgreSQL database and one Redis, for multi-node tests."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(*, database_url: str, redis_url: str, static_root: Path, **extra) -> dict:
    secret_key = extra.pop("secret_key", None) or secrets.token_urlsafe(50)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secret_key,
        # Stable with the secret key, so a kept benchmark database verifies.
        "AUDIT_CHAIN_KEY": "audit-chain-" + secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def collectstatic(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s: {last}")


@contextmanager
def process(args, *, env, log: Path):
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def web_node(env: dict, *, name: str, log_dir: Path, workers: int = 2, boot_timeout=30.0):
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "handover.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        # As in the Procfile: no one-time token in gunicorn's logs.
        "--logger-class",
        "handover.access_log.RedactingLogger",
    ]
    with process(args, env=env, log=log_dir / f"{name}.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", timeout=boot_timeout)
        yield url, proc


@contextmanager
def celery_worker(env: dict, *, log_dir: Path, name: str = "worker", concurrency: int = 2):
    args = [
        str(BIN / "celery"),
        "-A",
        "handover",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}-{secrets.token_hex(3)}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    with process(args, env=env, log=log_dir / f"{name}.log") as proc:
        yield proc


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(session: requests.Session, url: str) -> str:
    response = session.get(url, timeout=10)
    match = CSRF.search(response.text)
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def sign_in(session: requests.Session, base: str, email: str, password: str):
    token = csrf_token(session, f"{base}/login/")
    return session.post(
        f"{base}/login/",
        data={"csrfmiddlewaretoken": token, "email": email, "password": password},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=20,
    )
