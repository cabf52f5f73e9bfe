"""No usable token anywhere in the database: after invitations, reset and
sign-in links are issued, emailed (outbox) and opened (session), a full
PostgreSQL dump contains their hashes but never the tokens."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.db import connection

from accounts.services import invitations, passwords
from tests.conftest import need


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_only_token_hashes(admin_user, member, client):
    need(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    need(shutil.which("pg_dump") is not None, "pg_dump is not installed")
    from accounts.services.tokens import hash_token

    _, invite_link = invitations.invitation_create(actor=admin_user, email="new@example.com")
    reset = passwords.password_reset_token_create(actor=admin_user, user=member, send_email=True)
    magic_link = passwords.magic_link_send(actor=admin_user, user=member, type="signup")
    links = [invite_link, reset["link"], magic_link]
    tokens = [re.search(r"/([A-Za-z0-9_-]{40,})/$", link).group(1) for link in links]
    for link in links:  # opening a link moves it into the (database) session
        client.get(link.replace("http://testserver", ""))

    s = connection.settings_dict
    env = {"PGPASSWORD": s.get("PASSWORD") or ""}
    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            s["HOST"] or "127.0.0.1",
            "-p",
            str(s["PORT"] or 5432),
            "-U",
            s["USER"],
            s["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, **env},
    ).stdout
    assert "new@example.com" in dump  # the dump is real
    for token in tokens:
        assert len(token) >= 22  # >= 128 bits of url-safe base64
        assert token not in dump
        assert hash_token(token) in dump
