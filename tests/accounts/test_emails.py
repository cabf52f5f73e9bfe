"""The outbox: written with the change, sent after commit, at most once,
retried with backoff, swept when lost, visible and retryable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import smtplib
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from accounts.services import email_content, emails, notices, sealing
from audit.models import AuditEvent


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that says no."""

    def send_messages(self, messages):
        raise smtplib.SMTPDataError(451, b"Try again later")


REFUSING = "tests.accounts.test_emails.RefusingBackend"


def queue(to="ana@example.com", template="security_notice", user=None, **ctx):
    ctx = {"user": user, "kind": "password_changed", "headline": "Hello", **ctx}
    return emails.email_queue(to=to, template=template, context=ctx, user=user)


@pytest.mark.django_db
def test_email_is_sent_after_commit_with_its_stable_message_id(
    member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue(user=member)
        assert mail.outbox == []  # nothing leaves before the commit
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id
    assert email.message_id == f"<{email.pk}@testserver>"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_sends_nothing(builtin_roles):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the change failed")
    assert OutboundEmail.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_redelivered_task_never_sends_twice(member):
    email = queue(user=member)
    assert emails.email_deliver(email.pk).status == "sent"
    assert emails.email_deliver(email.pk).status == "sent"
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1


@pytest.mark.django_db
def test_failed_attempt_is_recorded_with_a_backoff(member, settings):
    settings.EMAIL_BACKEND = REFUSING
    settings.EMAIL_RETRY_BASE_SECONDS = 30
    email = queue(user=member)
    before = timezone.now()
    outcome = emails.email_deliver(email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING
    assert email.attempts == 1
    assert email.last_error.startswith("SMTPDataError: (451")
    assert 15 <= outcome.retry_in <= 30
    assert email.next_attempt_at >= before + timedelta(seconds=15)
    # Not due yet: a second task (sweep + retry) leaves it alone.
    assert emails.email_deliver(email.pk).status == "not_due"
    email.refresh_from_db()
    assert email.attempts == 1


@pytest.mark.django_db
def test_email_is_failed_after_the_last_attempt(member, settings):
    settings.EMAIL_BACKEND = REFUSING
    settings.EMAIL_MAX_ATTEMPTS = 3
    email = queue(user=member)
    for _ in range(3):
        OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        outcome = emails.email_deliver(email.pk)
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.attempts == 3
    assert outcome.retry_in is None
    assert emails.email_deliver(email.pk).status == "failed"


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.EMAIL_RETRY_BASE_SECONDS = 10
    settings.EMAIL_RETRY_MAX_SECONDS = 100
    delays = {n: [emails.retry_delay(n) for _ in range(200)] for n in (1, 2, 3, 10)}
    assert all(5 <= d <= 10 for d in delays[1])
    assert all(10 <= d <= 20 for d in delays[2])
    assert all(20 <= d <= 40 for d in delays[3])
    assert all(50 <= d <= 100 for d in delays[10])
    assert len(set(delays[3])) > 100  # jittered, not a fixed schedule


@pytest.mark.django_db
def test_sweep_requeues_only_overdue_pending_emails(
    member, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_SWEEP_AFTER = timedelta(minutes=2)
    # One row a task, so what is sent is what the sweep queued (a batch
    # would also take `fresh`, which is due).
    settings.EMAIL_BATCH_SIZE = 1
    lost = queue(user=member)  # on_commit not run: its task was "lost"
    fresh = queue(user=member)
    failed = queue(user=member)
    old = timezone.now() - timedelta(minutes=5)
    OutboundEmail.objects.filter(pk=lost.pk).update(next_attempt_at=old)
    OutboundEmail.objects.filter(pk=failed.pk).update(next_attempt_at=old, status="failed")
    assert emails.email_sweep() == 1
    assert OutboundEmail.objects.get(pk=lost.pk).status == "sent"
    assert OutboundEmail.objects.get(pk=fresh.pk).status == "pending"
    assert OutboundEmail.objects.get(pk=failed.pk).status == "failed"
    assert emails.email_sweep() == 0


@pytest.mark.django_db
def test_retry_puts_a_failed_email_back_and_is_audited(
    admin_user, member, django_capture_on_commit_callbacks
):
    email = queue(user=member)
    OutboundEmail.objects.filter(pk=email.pk).update(status="failed", attempts=6, last_error="x")
    with django_capture_on_commit_callbacks(execute=True):
        emails.email_retry(actor=admin_user, email=email)
    email.refresh_from_db()
    assert email.status == "sent"
    event = AuditEvent.objects.get(action="accounts.email.retried")
    assert event.actor_id == admin_user.pk
    assert event.changes["status"] == ["failed", "pending"]


@pytest.mark.django_db
def test_retry_needs_emails_retry(viewer, member):
    from rbac.policies import PolicyDenied

    email = queue(user=member)
    with pytest.raises(PolicyDenied, match="You need the permission emails:retry to do this."):
        emails.email_retry(actor=viewer, email=email)
    assert AuditEvent.objects.filter(action="accounts.email.retried", outcome="denied").exists()


@pytest.mark.django_db
def test_a_sent_email_is_not_retried(admin_user, member):
    from django.core.exceptions import ValidationError

    email = queue(user=member)
    emails.email_deliver(email.pk)
    with pytest.raises(ValidationError, match="already sent"):
        emails.email_retry(actor=admin_user, email=email)


@pytest.mark.django_db
def test_bodies_with_a_secret_are_sealed_in_the_outbox(member):
    link = "http://testserver/invite/SECRET-TOKEN-123/"
    email = emails.email_queue(
        to=member.email,
        template="invitation",
        context={"link": link, "inviter": "Ada", "expires_at": timezone.now()},
        user=member,
        secret=True,
    )
    email.refresh_from_db()
    assert "SECRET-TOKEN-123" not in email.body_text + email.body_html
    assert email.body_text.startswith("sealed:v2:")
    emails.email_deliver(email.pk)
    assert link in mail.outbox[0].body
    assert link in mail.outbox[0].alternatives[0][0]


def test_tampered_sealed_body_is_refused():
    sealed = sealing.seal("hello")
    assert sealing.unseal(sealed) == "hello"
    broken = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError):
        sealing.unseal(broken)


def test_sealed_bodies_are_fernet_tokens_from_the_cryptography_package():
    sealed = sealing.seal("hello")
    token = sealed.removeprefix(sealing.SEALED_PREFIX).encode()
    key = sealing._fernet_key(settings.SECRET_KEY)
    assert Fernet(key).decrypt(token) == b"hello"


def test_a_body_sealed_before_a_key_rotation_opens_with_the_old_key_as_fallback(settings):
    settings.SECRET_KEY = "old-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = []
    old = sealing.seal("sealed under the old key")

    settings.SECRET_KEY = "new-key-" + "y" * 50
    settings.SECRET_KEY_FALLBACKS = ["old-key-" + "x" * 50]
    assert sealing.unseal(old) == "sealed under the old key"
    new = sealing.seal("sealed under the new key")

    # The new body uses the current key: the old key alone cannot open it.
    settings.SECRET_KEY = "old-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ValueError, match="SECRET_KEY_FALLBACKS"):
        sealing.unseal(new)


def test_a_body_sealed_under_a_dropped_key_is_refused(settings):
    settings.SECRET_KEY = "old-key-" + "x" * 50
    old = sealing.seal("hello")
    settings.SECRET_KEY = "new-key-" + "y" * 50
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ValueError):
        sealing.unseal(old)


def _legacy_v1_seal(text: str, secret: str) -> str:
    """The pre-Fernet format, written here only to make a row as an older
    release left it in the outbox."""
    root = hashlib.sha256(("handover.outbox:" + secret).encode()).digest()
    enc_key = hmac.new(root, b"encrypt", hashlib.sha256).digest()
    mac_key = hmac.new(root, b"authenticate", hashlib.sha256).digest()
    data = text.encode()
    nonce = secrets.token_bytes(16)
    stream = b"".join(
        hmac.new(enc_key, nonce + n.to_bytes(8, "big"), hashlib.sha256).digest()
        for n in range((len(data) + 31) // 32)
    )
    cipher = bytes(a ^ b for a, b in zip(data, stream, strict=False))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()
    return "sealed:v1:" + base64.urlsafe_b64encode(nonce + tag + cipher).decode()


def test_legacy_sealed_bodies_still_open_also_after_a_key_rotation(settings):
    old_secret = settings.SECRET_KEY
    legacy = _legacy_v1_seal("a link: http://testserver/invite/T/" * 3, old_secret)
    assert sealing.unseal(legacy) == "a link: http://testserver/invite/T/" * 3
    settings.SECRET_KEY = "rotated-" + "z" * 50
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert sealing.unseal(legacy) == "a link: http://testserver/invite/T/" * 3
    tampered = legacy[:-4] + ("AAAA" if not legacy.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError):
        sealing.unseal(tampered)


@pytest.mark.django_db
def test_a_pending_row_sealed_by_the_old_format_is_still_sent(member, settings):
    link = "http://testserver/invite/LEGACY-TOKEN/"
    email = queue(user=member)
    OutboundEmail.objects.filter(pk=email.pk).update(
        body_text=_legacy_v1_seal(f"Accept: {link}", settings.SECRET_KEY),
        body_html=_legacy_v1_seal(f"<a href='{link}'>Accept</a>", settings.SECRET_KEY),
    )
    mail.outbox.clear()
    assert emails.email_deliver(email.pk).status == EmailStatus.SENT
    assert mail.outbox[0].body == f"Accept: {link}"
    assert link in mail.outbox[0].alternatives[0][0]


@pytest.mark.django_db
def test_notify_security_queues_a_notice_with_text_and_html(member):
    email = notices.notify_security(
        member,
        "email_changed",
        to="old@example.com",
        old_email="old@example.com",
        new_email=member.email,
    )
    assert email.to == "old@example.com"
    assert email.subject == "Security notice: The email address of your account was changed"
    assert "from old@example.com to member@example.com" in email.body_text
    assert "<html" in email.body_html
    with pytest.raises(ValueError):
        notices.notify_security(member, "nonsense")


@pytest.mark.django_db
def test_email_templates_escape_html_but_not_text(member):
    member.name = "Tom & <b>Jerry</b>"
    subject, text, html = email_content.render_email(
        "password_reset",
        {"user": member, "link": "http://testserver/x/", "expires_at": timezone.now()},
    )
    assert "Tom & <b>Jerry</b>" in text
    assert "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;" in html
    assert "http://testserver/x/" in html


@pytest.mark.django_db
def test_emails_page_lists_and_filters_by_status(
    client_for, admin_user, member, django_assert_max_num_queries
):
    for _ in range(3):
        queue(user=member)
    failed = queue(to="bob@example.com", user=member)
    OutboundEmail.objects.filter(pk=failed.pk).update(
        status="failed", attempts=6, last_error="SMTPDataError: refused"
    )
    client = client_for(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get("/emails/?status=failed")
    body = response.content.decode()
    assert response.status_code == 200
    assert "bob@example.com" in body
    assert "SMTPDataError: refused" in body
    assert "ana@example.com" not in body
    assert f"/emails/{failed.pk}/retry/" in body


@pytest.mark.django_db
def test_emails_page_needs_emails_read(client_for, member):
    response = client_for(member).get("/emails/")
    assert response.status_code == 403
    assert "emails:read" in response.content.decode()


@pytest.mark.django_db
def test_retry_button_queues_the_email_again(
    client_for, admin_user, member, django_capture_on_commit_callbacks
):
    email = queue(user=member)
    OutboundEmail.objects.filter(pk=email.pk).update(status="failed", attempts=6)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(f"/emails/{email.pk}/retry/")
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == "sent"
