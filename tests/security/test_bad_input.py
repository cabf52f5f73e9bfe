"""Hostile input answers a clear 4xx and loses nothing: deeply nested
metadata, oversized or NUL-bearing invitation CSVs, and the same new address
invited from several sessions at once."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from accounts.models import Invitation, User
from accounts.services import invitation_import
from accounts.services import invitations as invitation_services
from accounts.services.api_keys import api_key_create
from accounts.services.validation import METADATA_MAX_DEPTH, validate_metadata
from audit import services as audit
from tests.conftest import verify_session

USERS = "/api/admin/users"


def bearer(user) -> dict:
    _key, raw = api_key_create(actor=user, name="tests", template="full_access")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# --- metadata -------------------------------------------------------------------


def test_metadata_nested_deeper_than_the_limit_is_refused_clearly():
    validate_metadata(nested(METADATA_MAX_DEPTH - 1))  # that many objects in all
    with pytest.raises(ValidationError) as exc:
        validate_metadata(nested(500))
    assert exc.value.code == "too_deep"
    assert exc.value.messages == [
        f"Metadata is nested too deeply (at most {METADATA_MAX_DEPTH} levels)."
    ]


def test_metadata_nested_deeper_than_the_limit_as_text_is_refused_clearly():
    with pytest.raises(ValidationError) as exc:
        validate_metadata("[" * 100_000 + "]" * 100_000)
    assert exc.value.code in {"too_deep", "too_large"}


def test_the_audit_scrubber_does_not_recurse_without_bound():
    deep = nested(5000)
    scrubbed = audit.scrub({"metadata": [None, deep], "password": "x"})
    assert scrubbed["password"] == audit.REDACTED
    level = scrubbed["metadata"][1]
    depth = 0
    while isinstance(level, dict):
        level, depth = level["a"], depth + 1
    assert level == audit.TOO_DEEP
    assert depth < 100


@pytest.mark.django_db
def test_deep_metadata_on_the_edit_page_is_a_form_error(client_for, admin_user, member):
    client = client_for(admin_user)
    response = client.post(
        f"/users/{member.pk}/edit/",
        {"name": member.name, "email": member.email, "metadata": json.dumps(nested(500))},
    )
    assert response.status_code in (200, 400)
    assert "Metadata is nested too deeply" in response.content.decode()
    member.refresh_from_db()
    assert member.metadata == {}


@pytest.mark.django_db
def test_deep_metadata_over_the_api_is_a_400(client, admin_user, member):
    response = client.patch(
        f"{USERS}/{member.pk}",
        data=json.dumps({"metadata": nested(500)}),
        content_type="application/json",
        **bearer(admin_user),
    )
    assert response.status_code in (400, 422), response.content
    body = response.json()
    assert "error" in body


# --- invitation CSV -----------------------------------------------------------------


def test_a_csv_field_over_the_size_limit_is_a_clear_error():
    data = "email,name\nana@example.com," + "x" * (200 * 1024) + "\n"
    with pytest.raises(ValidationError) as exc:
        invitation_import.invitation_rows_from_csv(data)
    assert exc.value.code == "invalid_csv"
    assert "line 2" in exc.value.messages[0]


def test_a_nul_byte_in_a_csv_is_a_clear_error():
    with pytest.raises(ValidationError) as exc:
        invitation_import.invitation_rows_from_csv("email\nana@exa\x00mple.com\n")
    assert exc.value.code == "invalid_csv"
    assert exc.value.messages == ["The CSV file contains a NUL byte (line 2); is it a text file?"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, message",
    [
        (b"email,name\nana@example.com," + b"x" * (200 * 1024) + b"\n", "too long"),
        (b"email\nana@exa\x00mple.com\n", "contains a NUL byte"),
    ],
)
def test_bad_csv_uploads_answer_400_with_the_reason(client_for, admin_user, content, message):
    client = client_for(admin_user)
    response = client.post(
        "/invitations/preview/",
        {
            "csv_file": SimpleUploadedFile("list.csv", content, "text/csv"),
            "expires_days": 7,
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Invitation.objects.exists()


# --- the same address invited from several sessions at once ----------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_new_address_invited_from_eight_sessions_gets_one_invitation(
    require_postgres, admin_user
):
    clients = []
    for _ in range(8):
        c = Client()
        c.force_login(admin_user)
        verify_session(c, admin_user)
        response = c.post(
            "/invitations/preview/",
            {"emails": "race@example.com", "roles": ["viewer"], "expires_days": 7},
        )
        assert response.status_code == 200
        clients.append(c)
    barrier = threading.Barrier(8)
    results: list[tuple[int, str]] = []

    def send(c):
        try:
            barrier.wait()
            response = c.post("/invitations/send/")
            results.append((response.status_code, response.content.decode()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [200] * 8
    sent = [body for _, body in results if "1 invited" in body]
    refused = [body for _, body in results if "already has a pending invitation" in body]
    assert len(sent) == 1 and len(refused) == 7
    assert User.objects.filter(email="race@example.com").count() == 1
    assert Invitation.objects.filter(email="race@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_in_the_service_is_a_validation_error(require_postgres, admin_user):
    """The service itself turns the unique-violation race into the refusal
    people read, with a stable code, whichever entry point called it."""
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def invite():
        try:
            barrier.wait()
            invitation_services.invitation_create(actor=admin_user, email="race2@example.com")
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # reported by the assertion below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=invite) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["invitation_pending"] * 3 + ["ok"]
