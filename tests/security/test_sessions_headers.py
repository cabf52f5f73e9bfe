"""Sessions and headers in production mode (ASVS 3.2.1, 3.3.1, 3.4.1-3.4.3,
14.4.3-14.4.7 / 5.0 7.2.4, 3.3.1, 3.4.1-3.4.6). The production values come
from handover.settings imported in a subprocess with DJANGO_DEBUG=0, then
applied to a real request here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.contrib.sessions.models import Session
from django.test import override_settings

from tests.conftest import ROOT, STRONG_PASSWORD

pytestmark = pytest.mark.django_db

NAMES = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "X_FRAME_OPTIONS",
]


@pytest.fixture(scope="module")
def production():
    script = (
        "import json, django; from django.conf import settings; django.setup();"
        f"print(json.dumps({{n: getattr(settings, n) for n in {NAMES!r}}}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "production-like-secret-" + "x" * 40,
        "AUDIT_CHAIN_KEY": "production-like-audit-key-" + "y" * 40,
        "DATABASE_URL": "sqlite:///:memory:",
    }
    for name in ("DJANGO_SECURE_COOKIES", "DJANGO_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT"):
        env.pop(name, None)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_settings_are_strict(production):
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    assert production["SESSION_COOKIE_HTTPONLY"] and production["CSRF_COOKIE_HTTPONLY"]
    assert production["SECURE_SSL_REDIRECT"]
    assert production["SECURE_HSTS_SECONDS"] >= 31_536_000


def test_cookies_are_secure_httponly_and_samesite_in_production(client, owner, production):
    values = {k: v for k, v in production.items() if k != "DEBUG"}
    with override_settings(**values, MFA_POLICY="none"):
        client.get("/login/", secure=True)
        response = client.post(
            "/login/",
            {"email": "owner@example.com", "password": STRONG_PASSWORD},
            secure=True,
        )
        assert response.status_code == 302
        cookies = response.cookies
        session = cookies["sessionid"]
        csrf = client.cookies["csrftoken"]
    for cookie in (session, csrf):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


def test_plain_http_is_redirected_to_https_in_production(client, production):
    values = {k: v for k, v in production.items() if k != "DEBUG"}
    with override_settings(**values):
        response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


def test_security_headers_in_production(client, production):
    values = {k: v for k, v in production.items() if k != "DEBUG"}
    with override_settings(**values):
        response = client.get("/login/", secure=True)
    csp = {
        d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ") if d
    }
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    hsts = response["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains; preload"


def test_signed_in_pages_are_not_stored_by_browsers_or_proxies(client_for, owner):
    response = client_for(owner).get("/users/")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_sign_in_starts_a_new_session_key():
    """No session fixation: see tests/accounts/test_login.py::
    test_sign_in_starts_a_new_session_key (and, after the code step,
    tests/accounts/test_mfa.py)."""
    from tests.accounts import test_login

    assert hasattr(test_login, "test_sign_in_starts_a_new_session_key")


def test_a_planted_session_id_is_not_adopted(client, owner, settings):
    settings.MFA_POLICY = "none"
    client.cookies["sessionid"] = "attacker-chosen-session-key-000000"
    client.post("/login/", {"email": "owner@example.com", "password": STRONG_PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-chosen-session-key-000000"
    assert not Session.objects.filter(session_key="attacker-chosen-session-key-000000").exists()


def test_sign_out_ends_the_session_on_the_server_and_the_old_cookie_is_useless(
    client, owner, settings
):
    from django.test import Client

    settings.MFA_POLICY = "none"
    client.post("/login/", {"email": "owner@example.com", "password": STRONG_PASSWORD})
    stolen = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=stolen).exists()
    client.post("/logout/")
    assert not Session.objects.filter(session_key=stolen).exists()
    replay = Client()
    replay.cookies["sessionid"] = stolen
    response = replay.get("/users/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
