"""The audit chain's advisory lock is the sealer's (issue 29): writers of
events never take it, so a holder -- a stuck sealer, a long prune -- slows
no page, no API call and no sign-in (issue 28, F3). The sealer waits for
it for a bounded time (503 busy where a person waits) and seals what was
written meanwhile once it is free."""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction
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


def test_a_writer_does_not_wait_for_the_held_chain_lock_the_sealer_waits_bounded(
    chain_held, settings
):
    settings.AUDIT_LOCK_TIMEOUT_MS = 300
    started = time.monotonic()
    event = audit.record("tests.chain.busy")
    assert time.monotonic() - started < 0.5
    assert AuditEvent.objects.get(pk=event.pk).seq is None  # written, not sealed
    assert audit.seal(wait=False) == 0  # the lock is taken: nothing moves
    started = time.monotonic()
    with pytest.raises(ServiceBusy):
        audit.seal(wait=True)
    assert time.monotonic() - started < 2
    chain_held.rollback()
    assert audit.seal() == 1
    assert audit.verify_chain().ok


def test_once_the_holder_lets_go_the_sealer_goes_through_and_the_lock_timeout_is_restored(
    chain_held, settings
):
    settings.AUDIT_LOCK_TIMEOUT_MS = 3000
    audit.record("tests.chain.free")
    chain_held.rollback()
    with transaction.atomic():
        assert audit.lock_chain(wait=True)
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == "0"
    assert audit.seal(wait=True) == 1


def test_a_page_write_with_the_lock_held_goes_through_at_once(
    chain_held, settings, client_for, admin_user, member
):
    settings.AUDIT_LOCK_TIMEOUT_MS = 3000
    client = client_for(admin_user)
    started = time.monotonic()
    response = client.post(reverse("users:disable", args=[member.pk]), {"reason": "held"})
    elapsed = time.monotonic() - started
    assert response.status_code == 302, response.content[:300]
    assert elapsed < 1.5, elapsed
    member.refresh_from_db()
    assert member.status == "disabled"
    event = AuditEvent.objects.get(action="accounts.user.disabled", target_id=str(member.pk))
    assert event.seq is None and event.hash == ""


def test_an_api_write_with_the_lock_held_goes_through_at_once(
    chain_held, settings, admin_user, member, client
):
    from accounts.services.api_keys import api_key_create

    settings.AUDIT_LOCK_TIMEOUT_MS = 3000
    _key, raw = api_key_create(actor=admin_user, name="tests", template="full_access")
    started = time.monotonic()
    response = client.post(
        f"/api/admin/users/{member.pk}/disable",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200, response.content[:300]
    assert time.monotonic() - started < 1.5


def test_sign_in_does_not_wait_on_the_chain_and_its_event_is_sealed_later(
    chain_held, settings, client, member
):
    """Issue 28, F3: a stuck holder of the chain's lock locked everyone
    out, since signing in records an event. Now no writer takes that lock:
    sign-in and failed sign-ins go through at once, their events are in the
    log at once (pending), and the sealer links them, in order and once,
    when the lock is free."""
    from tests.conftest import STRONG_PASSWORD

    settings.MFA_POLICY = "none"
    settings.AUDIT_LOCK_TIMEOUT_MS = 3000
    member.set_password(STRONG_PASSWORD)
    member.save()
    timings = []
    for password in ("wrong-password-1", STRONG_PASSWORD):
        started = time.monotonic()
        response = client.post(reverse("login"), {"email": member.email, "password": password})
        timings.append(time.monotonic() - started)
    print(f"FIGURE sign-in with the chain's lock held: {[round(t, 2) for t in timings]} s")
    assert response.status_code == 302  # signed in
    assert max(timings) < 1.5  # not AUDIT_LOCK_TIMEOUT_MS
    pending = AuditEvent.objects.filter(seq__isnull=True).order_by("id")
    assert [e.action for e in pending] == ["accounts.login.failed", "accounts.login.succeeded"]
    assert audit.seal(wait=False) == 0  # still held: nothing moves

    chain_held.rollback()
    assert audit.seal() == 2
    linked = AuditEvent.objects.order_by("-seq")[:2]
    assert [e.action for e in reversed(linked)] == [
        "accounts.login.failed",
        "accounts.login.succeeded",
    ]
    assert linked[0].actor_id == member.pk
    assert audit.verify_chain().ok
    assert audit.seal() == 0  # sealed once


def test_with_the_lock_free_a_sign_in_is_sealed_after_its_commit(require_postgres, client, member):
    """The commit's nudge runs the sealer (inline here: eager tasks)."""
    from tests.conftest import STRONG_PASSWORD

    member.set_password(STRONG_PASSWORD)
    member.save()
    client.post(reverse("login"), {"email": member.email, "password": "nope-nope-nope"})
    event = AuditEvent.objects.get(action="accounts.login.failed")
    assert event.seq is not None and event.hash
