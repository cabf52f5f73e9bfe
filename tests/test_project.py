"""Project-level checks: production settings, health endpoint, the owner
bootstrap command."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from tests.conftest import ROOT


def test_check_deploy_is_clean_in_production_mode():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "handover.example.com",
        "SITE_URL": "https://handover.example.com",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "handover.settings", "DJANGO_DEBUG": "0"}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_says_degraded_when_the_broker_is_down(client, settings):
    """Without Redis the site still serves (see tests/test_degraded.py):
    healthz says what is degraded, and stays 200 so a load balancer keeps
    the node."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "degraded"
    assert body["degraded"] == ["broker-unreachable", "cache-unreachable"]
    assert body["broker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, require_postgres):
    """The health probe connects afresh: a database at a port nothing
    listens on (real, no stand-in) is reported unreachable."""
    from django.db import connection

    from tests.scale.nodes import free_port

    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = client.get("/healthz")
    finally:
        connection.settings_dict["PORT"] = saved
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["degraded"][0] == "database-unreachable"


@pytest.mark.django_db
def test_bootstrap_owner_creates_the_single_owner(builtin_roles):
    call_command(
        "bootstrap_owner",
        email="Boss@Example.com",
        password="A-very-long-passphrase-9",
        no_input=True,
    )
    owner = User.objects.get(is_owner=True)
    assert owner.email == "boss@example.com"
    assert owner.check_password("A-very-long-passphrase-9")
    assert list(owner.roles.values_list("slug", flat=True)) == ["owner"]


@pytest.mark.django_db
def test_bootstrap_owner_refuses_when_an_owner_exists(owner):
    with pytest.raises(CommandError, match="An owner already exists"):
        call_command(
            "bootstrap_owner",
            email="second@example.com",
            password="A-very-long-passphrase-9",
            no_input=True,
        )
    assert User.objects.filter(is_owner=True).count() == 1


@pytest.mark.django_db
def test_bootstrap_owner_rejects_a_weak_password(builtin_roles):
    with pytest.raises(CommandError, match="too short"):
        call_command("bootstrap_owner", email="boss@example.com", password="short", no_input=True)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_database_allows_only_one_owner(owner):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        User.objects.create_user("second@example.com", password=None, is_owner=True)


def test_passwords_use_argon2id_with_owasp_parameters(settings):
    from django.contrib.auth.hashers import get_hasher

    settings.PASSWORD_HASHERS = ["handover.hashers.OWASPArgon2PasswordHasher"]
    hasher = get_hasher()
    encoded = hasher.encode("A-very-long-passphrase-9", hasher.salt())
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify("A-very-long-passphrase-9", encoded)


@pytest.mark.django_db
def test_an_unknown_page_says_so_in_words_not_with_an_exception_name(client_for, admin_user):
    """Django's handler names the exception ("Resolver404") when it carries
    no message; the page must not show that name to people."""
    response = client_for(admin_user).get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "This page does not exist, or what it showed has been deleted." in body
    assert "Resolver404" not in body
