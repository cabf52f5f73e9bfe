"""Two gunicorn web nodes on one PostgreSQL database and one Redis behave
as one site: sessions, sign-out, the lockout counter and health are shared.

Real processes: each node is `gunicorn handover.wsgi` in production mode
(DJANGO_DEBUG=0) on its own port."""

from __future__ import annotations

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
def cluster(tmp_path_factory, django_db_setup, django_db_blocker):
    """Two nodes for the whole module (starting them is the slow part)."""
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
    )
    nodes.collectstatic(env)
    log_dir = ROOT / "var" / "multinode"
    with (
        nodes.web_node(env, name="node-a", log_dir=log_dir) as (a, _),
        nodes.web_node(env, name="node-b", log_dir=log_dir) as (b, _),
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
    health = [requests.get(f"{node}/healthz", timeout=10).json() for node in (a, b)]
    assert health[0]["status"] == health[1]["status"] == "ok"
    assert health[0]["database"] == health[1]["database"]
    assert health[0]["broker"] == health[1]["broker"]
    assert health[0]["broker"]["kind"] == "redis"
    assert health[0]["database"]["vendor"] == "postgresql"
