"""Two gunicorn web nodes on one PostgreSQL database and one Redis behave
as one site: sessions, sign-out, the lockout counter and health are shared,
and an invitation made on one node is delivered by the Celery worker.

Real processes: each node is `gunicorn handover.wsgi` in production mode
(DJANGO_DEBUG=0) on its own port."""

from __future__ import annotations

import time

import pytest
import requests
from django.db import connection

from tests.conftest import ROOT, STRONG_PASSWORD, make_user, need, redis_available, redis_url
from tests.scale import nodes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def production_hasher(settings, builtin_roles):
    # Users made by the tests must verify on nodes running production hashers.
    settings.PASSWORD_HASHERS = ["handover.hashers.OWASPArgon2PasswordHasher"]


@pytest.fixture(scope="module")
def smtp_server():
    """A local SMTP server (aiosmtpd) recording what the worker delivers."""
    from aiosmtpd.controller import Controller

    from tests.accounts.test_emails_reliability import RecordingHandler

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=nodes.free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, django_db_setup, django_db_blocker, smtp_server):
    """Two nodes and one Celery worker for the whole module (starting them
    is the slow part)."""
    need(connection.vendor == "postgresql", "multi-node test needs PostgreSQL (DATABASE_URL)")
    need(redis_available(), "multi-node test needs Redis (REDIS_URL)")
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    env = nodes.production_env(
        database_url=database_url,
        redis_url=redis_url(),
        static_root=tmp_path_factory.mktemp("static"),
        MFA_POLICY="none",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp_server.port,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    nodes.collectstatic(env)
    log_dir = ROOT / "var" / "multinode"
    with (
        nodes.web_node(env, name="node-a", log_dir=log_dir) as (a, _),
        nodes.web_node(env, name="node-b", log_dir=log_dir) as (b, _),
        nodes.celery_worker(env, log_dir=log_dir, concurrency=1),
    ):
        yield a, b


def test_a_session_started_on_node_a_works_on_node_b(cluster):
    a, b = cluster
    make_user("viewer@example.com", roles=["viewer"])
    browser = requests.Session()
    response = nodes.sign_in(browser, a, "viewer@example.com", STRONG_PASSWORD)
    assert response.status_code == 302, response.text[:500]
    on_b = browser.get(f"{b}/", allow_redirects=False, timeout=10)
    assert on_b.status_code == 200
    assert "Overview" in on_b.text


def test_a_session_ended_on_node_b_is_refused_on_node_a(cluster):
    a, b = cluster
    make_user("viewer@example.com", roles=["viewer"])
    browser = requests.Session()
    nodes.sign_in(browser, a, "viewer@example.com", STRONG_PASSWORD)
    stale_cookie = browser.cookies.get("sessionid")
    token = nodes.csrf_token(browser, f"{b}/")
    browser.post(
        f"{b}/logout/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{b}/"},
        allow_redirects=False,
        timeout=10,
    )
    replay = requests.Session()
    replay.cookies.set("sessionid", stale_cookie)
    response = replay.get(f"{a}/", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/")


def test_the_lockout_counter_is_shared_between_nodes(cluster):
    a, b = cluster
    make_user("viewer@example.com", roles=["viewer"])
    for i in range(10):
        node = a if i % 2 else b
        nodes.sign_in(requests.Session(), node, "viewer@example.com", "wrong-password-xx")
    for node in (a, b):
        browser = requests.Session()
        response = nodes.sign_in(browser, node, "viewer@example.com", STRONG_PASSWORD)
        assert response.status_code == 200  # the form again, not a redirect
        assert "Incorrect email or password" in response.text
        assert browser.get(f"{node}/", allow_redirects=False, timeout=10).status_code == 302


def test_both_nodes_report_the_same_database_and_broker(cluster):
    a, b = cluster
    # Anonymous callers see only which parts are up (the details are for
    # operators: tests/test_health.py); that both nodes share one database
    # is shown by the session and lockout tests above.
    health = [requests.get(f"{node}/healthz", timeout=10).json() for node in (a, b)]
    expected = {"status": "ok", "degraded": [], "database": {"ok": True}, "broker": {"ok": True}}
    assert health[0] == health[1] == expected


def test_an_invitation_created_on_node_a_is_delivered_by_the_worker(cluster, smtp_server):
    from accounts.models import EmailStatus, Invitation, OutboundEmail

    a, _ = cluster
    make_user("manager@example.com", roles=["admin"])
    browser = requests.Session()
    assert nodes.sign_in(browser, a, "manager@example.com", STRONG_PASSWORD).status_code == 302
    token = nodes.csrf_token(browser, f"{a}/invitations/")
    headers = {"Referer": f"{a}/invitations/"}
    preview = browser.post(
        f"{a}/invitations/preview/",
        data={"csrfmiddlewaretoken": token, "emails": "newcomer@example.com", "expires_days": 3},
        headers=headers,
        timeout=20,
    )
    assert "1 ready" in preview.text, preview.text[:500]
    sent = browser.post(
        f"{a}/invitations/send/", data={"csrfmiddlewaretoken": token}, headers=headers, timeout=20
    )
    assert sent.status_code == 200
    invitation = Invitation.objects.get(email="newcomer@example.com")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not smtp_server.messages:
        time.sleep(0.2)
    assert [m["To"] for m in smtp_server.messages] == ["newcomer@example.com"]
    email = OutboundEmail.objects.get(to="newcomer@example.com")
    assert smtp_server.message_ids == [email.message_id]
    assert email.user_id == invitation.user_id or email.template.startswith("invit")
    for _ in range(50):  # the worker writes the outcome back after the SMTP reply
        email.refresh_from_db()
        if email.status == EmailStatus.SENT:
            break
        time.sleep(0.2)
    assert email.status == EmailStatus.SENT
