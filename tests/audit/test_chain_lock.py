"""The audit chain's advisory lock is waited on for a bounded time: one
holder cannot take the site down (issue 17). A writer that cannot get it
answers 503 "busy, retry" -- a page and the API alike -- and changes
nothing."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.urls import reverse

from audit import services as audit
from audit.models import AuditEvent
from core.services import ServiceBusy
from tests.faults import audit_chain_hold

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain_held(require_postgres):
    other = audit_chain_hold()
    yield other
    other.rollback()
    other.close()


def test_a_held_chain_lock_is_waited_on_for_a_bounded_time(chain_held, settings):
    settings.AUDIT_LOCK_TIMEOUT_MS = 300
    started = time.monotonic()
    with pytest.raises(ServiceBusy) as busy:
        audit.record("tests.chain.busy")
    assert time.monotonic() - started < 2
    assert busy.value.message.startswith("The server is busy right now; nothing was changed.")
    assert not AuditEvent.objects.filter(action="tests.chain.busy").exists()


def test_once_the_holder_lets_go_writers_go_through_and_the_lock_timeout_is_restored(
    chain_held, settings
):
    settings.AUDIT_LOCK_TIMEOUT_MS = 300
    chain_held.rollback()
    from django.db import transaction

    with transaction.atomic():
        audit.record("tests.chain.free")
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "0"


def test_a_page_write_behind_a_held_lock_answers_503_busy(
    chain_held, settings, client_for, admin_user, member
):
    settings.AUDIT_LOCK_TIMEOUT_MS = 300
    response = client_for(admin_user).post(
        reverse("users:disable", args=[member.pk]), {"reason": "busy test"}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "The server is busy right now; nothing was changed." in response.content.decode()
    member.refresh_from_db()
    assert member.status == "active"


def test_an_api_write_behind_a_held_lock_answers_503_busy_json(
    require_postgres, settings, admin_user, member, client
):
    from accounts.services.api_keys import api_key_create

    settings.AUDIT_LOCK_TIMEOUT_MS = 300
    _key, raw = api_key_create(actor=admin_user, name="tests", template="full_access")
    other = audit_chain_hold()
    try:
        response = client.post(
            f"/api/admin/users/{member.pk}/disable",
            data="{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": "busy",
        "detail": "The server is busy right now; nothing was changed. "
        "Please try again in a few seconds.",
    }
