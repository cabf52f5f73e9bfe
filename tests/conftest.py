"""Shared fixtures.

Services the suite needs (PostgreSQL, Redis, Chromium) are detected; when one
is missing its tests skip with the reason, unless REQUIRE_SERVICES=1 (CI),
where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
STRONG_PASSWORD = "Correct-Horse-Battery-42"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def need(condition: bool, reason: str) -> None:
    """Skip (or, with REQUIRE_SERVICES=1, fail) when a service is missing."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def _own_redis_database(url: str, worker: str) -> str:
    """Under pytest-xdist each worker process takes its own Redis database
    (gw0 the one given, gw1 the next, ...): tests empty theirs (the broker
    fixture) and read Celery's queue, as the workers' PostgreSQL test
    databases are apart (pytest-django's _gwN suffix)."""
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    own = (base + int(worker[2:])) % 16
    return urlunsplit(parts._replace(path=f"/{own}"))


if os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = _own_redis_database(
        os.environ["REDIS_URL"], os.environ.get("PYTEST_XDIST_WORKER", "")
    )


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def redis_available() -> bool:
    url = redis_url()
    if not url:
        return False
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.fixture(autouse=True)
def _breakers_closed():
    """Each test starts with the cache's and the broker's breakers closed
    (a failure noted by an earlier test would skip Redis in this one)."""
    from core import cache, tasks

    tasks.reset_breaker()
    cache._last_failure = 0.0


@pytest.fixture
def require_postgres():
    from django.db import connection

    need(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")


@pytest.fixture
def require_redis():
    need(redis_available(), "Redis is not reachable (set REDIS_URL)")
    return redis_url()


@pytest.fixture(autouse=True)
def fresh_budgets():
    """Rate limits and failure budgets are counted in the cache (in-memory
    in tests, shared by every test in the process): each test starts with
    none spent, so one test's failed sign-ins or wrong keys never answer
    another's with 429."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def builtin_roles(db):
    """Built-in roles come from a data migration, but transactional tests
    flush every table; restore them for the tests that need them."""
    builtin_roles_ensure()


def builtin_roles_ensure() -> None:
    """Create any missing built-in role (idempotent). The data migration
    creates them; this restores them after a test runner's table flush
    (a test-runner concern, so it lives here, not in the product)."""
    from rbac.models import Role
    from rbac.permissions import BUILTIN_ROLES

    existing = set(Role.objects.filter(slug__in=BUILTIN_ROLES).values_list("slug", flat=True))
    Role.objects.bulk_create(
        [
            Role(
                slug=slug,
                name=spec["name"],
                description=spec["description"],
                permissions=spec["permissions"],
                is_builtin=True,
            )
            for slug, spec in BUILTIN_ROLES.items()
            if slug not in existing
        ]
    )


def make_user(email: str, *, roles=(), password: str = STRONG_PASSWORD, **fields):
    from django.utils import timezone

    from accounts.models import User
    from rbac.models import Role, UserRole

    fields.setdefault("email_verified_at", timezone.now())
    user = User.objects.create_user(email, password=password, **fields)
    for slug in roles:
        UserRole.objects.create(user=user, role=Role.objects.get(slug=slug))
    return user


def lock_out(email: str, *, when=None) -> None:
    """The attempt row django-axes keeps after enough failed sign-ins from
    one address: `email` is locked out (as of `when`, default now)."""
    from axes.models import AccessAttempt
    from django.conf import settings as django_settings
    from django.utils import timezone as tz

    AccessAttempt.objects.create(
        username=email,
        ip_address="198.51.100.9",
        user_agent="guesser",
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/login/",
        failures_since_start=django_settings.AXES_FAILURE_LIMIT,
        attempt_time=when or tz.now(),
    )


def make_users(n: int, *, prefix: str) -> list:
    """`n` active, verified users without roles (<prefix><i>@example.com),
    in one INSERT: for batches and jobs over many users."""
    from django.utils import timezone

    from accounts.models import User

    now = timezone.now()
    users = [
        User(email=f"{prefix}{i}@example.com", password="!", email_verified_at=now)
        for i in range(n)
    ]
    for u in users:
        u.set_password("x")  # usable password: status active
    return User.objects.bulk_create(users)


def make_route_targets(*, user, invited_by, invitee: str, session_key: str):
    """Rows that parameterised routes can point at, stored directly: an
    invitation to `invitee` from `invited_by`, an email to `user` and a
    session of `user`. Returns (invitation, email, session)."""
    from django.utils import timezone

    from accounts.models import Invitation, OutboundEmail, UserSession

    invitation = Invitation.objects.create(
        email=invitee,
        token_hash=uuid.uuid4().hex * 2,
        expires_at=timezone.now() + timezone.timedelta(days=7),
        invited_by=invited_by,
    )
    email = OutboundEmail.objects.create(
        to=user.email,
        user=user,
        template="t",
        subject="s",
        body_text="b",
        message_id=f"<{uuid.uuid4()}@test>",
    )
    session = UserSession.objects.create(session_key=session_key, user=user)
    return invitation, email, session


@pytest.fixture
def owner(db, builtin_roles):
    return make_user("owner@example.com", roles=["owner"], is_owner=True, name="Olivia Owner")


@pytest.fixture
def admin_user(db, owner):
    return make_user("admin@example.com", roles=["admin"], name="Adam Admin")


@pytest.fixture
def editor(db, owner):
    return make_user("editor@example.com", roles=["editor"], name="Edith Editor")


@pytest.fixture
def viewer(db, owner):
    return make_user("viewer@example.com", roles=["viewer"], name="Victor Viewer")


@pytest.fixture
def member(db, owner):
    """A user with no roles at all."""
    return make_user("member@example.com", name="Mona Member")


@pytest.fixture
def client_for(client):
    """`client_for(user)`: the test client signed in as that user, as they
    would be after a complete sign-in: a user the MFA policy requires to use
    a second factor gets a confirmed TOTP device and an OTP-verified session
    (pass `verified=False` for a password-only session)."""

    def sign_in(user, *, verified: bool = True):
        client.force_login(user, backend="accounts.backends.EmailBackend")
        if verified:
            verify_session(client, user)
        # One request records the session (as the sign-in view would), so
        # query counts in tests measure steady-state requests.
        client.get("/healthz")
        return client

    return sign_in


def verify_session(client, user, *, force: bool = False) -> None:
    """Mark the client's session OTP-verified (creating a device if needed)
    when the MFA policy requires it for `user`, or always with `force`."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.security import mfa_required

    if not (force or mfa_required(user)):
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


# --- browser ---------------------------------------------------------------

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need(False, "playwright is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """`screenshot(page, name)` saves var/screenshots/<name>.png; with
    `phone=True` also <name>-phone.png at phone width, then returns the page
    to desktop width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, phone: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if phone:
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(200)  # let the layout settle before the capture
            page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
            page.set_viewport_size(DESKTOP)
        return path

    return take


def pytest_report_header(config):
    have = shutil.which("chromium") or CHROMIUM
    database = "set" if os.environ.get("DATABASE_URL") else "unset (SQLite)"
    return [
        f"REQUIRE_SERVICES={int(REQUIRE_SERVICES)} DATABASE_URL={database} "
        f"REDIS_URL={'set' if redis_url() else 'unset'} chromium={have}"
    ]


def reauthenticate(client, *, minutes_ago: float = 0) -> None:
    """Mark the client's session as re-authenticated `minutes_ago` (as the
    /account/reauthenticate/ page does), for views behind @reauth_required."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import UserSession

    key = client.session.session_key
    UserSession.objects.filter(session_key=key).update(
        reauthenticated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
