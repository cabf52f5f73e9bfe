"""The email outbox.

`email_queue` writes the message in the caller's transaction and schedules
its sending after commit; a rolled-back change therefore sends nothing.
`email_deliver` (run by the Celery task) locks the row and checks its status
first, so a redelivered task never sends a message twice. A failed attempt
is recorded (attempts, last error, next attempt time with exponential
backoff and jitter); after `EMAIL_MAX_ATTEMPTS` the row is `failed` and
waits for a person to retry it. `email_sweep` re-queues rows left pending
(broker down at commit time, worker killed mid-task).
"""

from __future__ import annotations

import base64
import hashlib
import hmac as stdlib_hmac
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import EmailStatus, OutboundEmail
from audit import services as audit
from core.services import service
from core.tasks import wake
from rbac import policies

logger = logging.getLogger(__name__)


def site_link(path: str) -> str:
    """An absolute link from SITE_URL -- never from the request's Host."""
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def _message_id(email_id: uuid.UUID) -> str:
    """Fixed when the row is written, so every attempt (and a redelivery)
    carries the same Message-ID and receivers can spot a duplicate."""
    domain = urlsplit(settings.SITE_URL).hostname or "handover.local"
    return f"<{email_id}@{domain}>"


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/emails/<template>_subject.txt,
    _message.txt and (optional) _message.html."""
    ctx = {"site_url": settings.SITE_URL, "site_name": "Handover", **context}
    subject = render_to_string(f"emails/{template}_subject.txt", ctx)
    subject = " ".join(subject.split())
    ctx["subject"] = subject
    text = render_to_string(f"emails/{template}_message.txt", ctx)
    try:
        html = render_to_string(f"emails/{template}_message.html", ctx)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


# --- sealing bodies that carry a secret -----------------------------------
#
# An invitation or reset email contains a live token. The outbox must keep
# the message until it is sent (the broker may be down), but a database dump
# must not reveal a usable token: such bodies are stored sealed with Fernet
# (AES-128-CBC + HMAC-SHA256, from the `cryptography` package). The Fernet
# keys are derived with HKDF from SECRET_KEY and each of
# SECRET_KEY_FALLBACKS: new bodies use the current key, and a body sealed
# before a key rotation still opens while its old key is a fallback.

SEALED_PREFIX = "sealed:v2:"
# Bodies written before the move to Fernet (a hand-written HMAC-CTR
# construction). They are only ever opened, never written, so rows queued
# before an upgrade still go out; see `_open_legacy_v1`.
LEGACY_SEALED_PREFIX = "sealed:v1:"


def _fernet_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"handover.outbox", info=b"fernet:v2")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode("utf-8")))


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _fernet() -> MultiFernet:
    """The current key first (it seals), then every fallback (they open)."""
    return MultiFernet([Fernet(_fernet_key(secret)) for secret in _secrets()])


def seal(text: str) -> str:
    if not text:
        return text
    return SEALED_PREFIX + _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(text: str) -> str:
    """The plain text of a sealed body (a body that was never sealed is
    returned as is). Raises ValueError when no configured key opens it."""
    if not text:
        return text
    if text.startswith(LEGACY_SEALED_PREFIX):
        return _open_legacy_v1(text[len(LEGACY_SEALED_PREFIX) :])
    if not text.startswith(SEALED_PREFIX):
        return text
    try:
        return _fernet().decrypt(text[len(SEALED_PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise ValueError(
            "sealed email body failed authentication "
            "(SECRET_KEY changed without keeping the old one in SECRET_KEY_FALLBACKS?)"
        ) from exc


def _open_legacy_v1(payload: str) -> str:
    """Open a body sealed by the pre-Fernet format, read-only: nonce(16) |
    tag(32) | ciphertext, tag = HMAC-SHA256 over nonce+ciphertext, keystream
    = HMAC-SHA256(key, nonce || counter). Only pending rows written before
    the upgrade need it; nothing new is written in this format. The MAC is
    checked (constant time, the library's HMAC) before anything is
    decrypted."""
    try:
        raw = base64.urlsafe_b64decode(payload)
    except ValueError as exc:
        raise ValueError("sealed email body is not valid base64") from exc
    nonce, tag, cipher = raw[:16], raw[16:48], raw[48:]
    for secret in _secrets():
        root = hashlib.sha256(("handover.outbox:" + secret).encode()).digest()
        enc_key = stdlib_hmac.new(root, b"encrypt", hashlib.sha256).digest()
        mac_key = stdlib_hmac.new(root, b"authenticate", hashlib.sha256).digest()
        mac = crypto_hmac.HMAC(mac_key, hashes.SHA256())
        mac.update(nonce + cipher)
        try:
            mac.verify(tag)
        except InvalidSignature:
            continue
        stream = b"".join(
            stdlib_hmac.new(enc_key, nonce + n.to_bytes(8, "big"), hashlib.sha256).digest()
            for n in range((len(cipher) + 31) // 32)
        )
        return bytes(a ^ b for a, b in zip(cipher, stream, strict=False)).decode("utf-8")
    raise ValueError("legacy sealed email body failed authentication (SECRET_KEY changed?)")


def email_queue(
    *, to: str, template: str, context: dict, user=None, secret: bool = False
) -> OutboundEmail:
    """Write an outbound email in the current transaction and send it after
    commit. The caller holds the transaction (a service). `secret=True`
    when the body carries a live token: it is stored sealed."""
    subject, text, html = render_email(template, context)
    if secret:
        text, html = seal(text), seal(html)
    email_id = uuid.uuid4()
    email = OutboundEmail.objects.create(
        id=email_id,
        to=to,
        user=user,
        template=template,
        subject=subject[:255],
        body_text=text,
        body_html=html,
        message_id=_message_id(email_id),
    )
    transaction.on_commit(lambda: email_enqueue(email.pk))
    return email


def email_enqueue(email_id) -> bool:
    """Hand one email to the broker. A broker outage is not an error here:
    the row stays pending and `email_sweep` queues it later."""
    try:
        wake("accounts.tasks.email_send", str(email_id))
        return True
    except Exception as exc:
        logger.warning("could not queue email %s (%s); the sweep will", email_id, exc)
        return False


# --- delivery ---------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did. `retry_in` (seconds) is set when the
    attempt failed and another one is due."""

    status: str
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter: a random delay between half and
    all of base * 2**(attempts-1), capped. The jitter spreads a burst of
    failures so they do not all hit the SMTP server again at once."""
    base = settings.EMAIL_RETRY_BASE_SECONDS
    ceiling = min(settings.EMAIL_RETRY_MAX_SECONDS, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def _build_message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unseal(email.body_text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
    )
    if email.body_html:
        message.attach_alternative(unseal(email.body_html), "text/html")
    return message


def email_deliver(email_id) -> Delivery:
    """Send one pending email, at most once as far as the database can tell.

    1. Claim (short transaction, row locked): count the attempt and take a
       "sending" lease -- `next_attempt_at` moves EMAIL_SENDING_LEASE ahead,
       so a concurrent or redelivered task, and the sweep, leave the row
       alone while the message may be on its way.
    2. Talk to SMTP with no transaction open.
    3. Record the outcome, retrying the write with backoff for up to
       EMAIL_STATUS_RETRY_SECONDS (a PostgreSQL blip right after the send).

    If the database stays unreachable beyond that, the row keeps its lease
    and is sent again only after the lease (+ EMAIL_SWEEP_AFTER): the one
    case left that duplicates a message, bounded by one per worker slot
    whose send completed during that outage; the stable Message-ID lets
    receivers drop it."""
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None:
            return Delivery("missing")
        if email.status != EmailStatus.PENDING:
            return Delivery(email.status)
        now = timezone.now()
        if email.next_attempt_at > now + timedelta(seconds=1):
            return Delivery("not_due")
        email.attempts += 1
        email.next_attempt_at = now + settings.EMAIL_SENDING_LEASE
        email.save(update_fields=["attempts", "next_attempt_at"])
    try:
        _build_message(email).send()
    except Exception as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
        retry_in = None
        fields = {"last_error": error}
        if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            fields["status"] = EmailStatus.FAILED
            logger.error("email %s failed for good: %s", email.pk, error)
        else:
            retry_in = retry_delay(email.attempts)
            fields["next_attempt_at"] = timezone.now() + timedelta(seconds=retry_in)
        _record_outcome(email.pk, fields)
        return Delivery(fields.get("status", EmailStatus.PENDING), retry_in)
    _record_outcome(email.pk, {"status": EmailStatus.SENT, "sent_at": timezone.now()})
    return Delivery(EmailStatus.SENT)


def _record_outcome(email_id, fields: dict) -> None:
    """Write an attempt's outcome, retrying with backoff while the database
    is unreachable (for up to EMAIL_STATUS_RETRY_SECONDS); then give up by
    raising -- the sending lease keeps the row from being resent early."""
    deadline = time.monotonic() + settings.EMAIL_STATUS_RETRY_SECONDS
    pause = 0.2
    while True:
        try:
            OutboundEmail.objects.filter(pk=email_id).update(**fields)
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() + pause > deadline:
                logger.error("could not record the outcome of email %s", email_id)
                raise
            # The connection is broken: drop it so the next try reconnects.
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def email_sweep(*, limit: int = 500) -> int:
    """Queue again the pending emails whose attempt is overdue by more than
    EMAIL_SWEEP_AFTER (their task was lost: broker down at commit, worker
    killed). Pushing `next_attempt_at` to now keeps the next sweep from
    queuing the same rows again before they had a chance. Returns how many
    were queued."""
    now = timezone.now()
    cutoff = now - settings.EMAIL_SWEEP_AFTER
    with transaction.atomic():
        ids = list(
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(status=EmailStatus.PENDING, next_attempt_at__lte=cutoff)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        OutboundEmail.objects.filter(pk__in=ids).update(next_attempt_at=now)
    queued = 0
    for pk in ids:
        if not email_enqueue(pk):
            break  # the broker is still down; the next sweep tries again
        queued += 1
    return queued


@service
def email_retry(*, actor, email: OutboundEmail) -> OutboundEmail:
    """A person sends a failed (or stuck pending) email again: the row goes
    back to pending with a fresh attempt budget and is queued after commit.
    A sent email is never sent twice."""
    action = "accounts.email.retried"
    policies.check_permission(actor, "emails:retry", action=action)
    email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
    if email.status == EmailStatus.SENT:
        raise ValidationError("This email was already sent; it is not sent twice.", code="sent")
    before = {"status": email.status, "attempts": email.attempts}
    email.status = EmailStatus.PENDING
    email.attempts = 0
    email.next_attempt_at = timezone.now()
    email.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit.record(
        action,
        actor=actor,
        target=audit.Target(
            type="email", id=str(email.pk), label=f"{email.template} to {email.to}"
        ),
        changes={"status": [before["status"], "pending"], "attempts": [before["attempts"], 0]},
    )
    transaction.on_commit(lambda: email_enqueue(email.pk))
    return email


# --- security notices ------------------------------------------------------

SECURITY_NOTICES = {
    "password_changed": "Your password was changed",
    "password_reset_by_admin": "An administrator set a new password for your account",
    "mfa_removed": "A two-factor authentication method was removed from your account",
    "email_changed": "The email address of your account was changed",
    "roles_elevated": "You were given new management permissions",
    "ownership_transferred": "Ownership of Handover was transferred",
}


def notify_security(user, kind: str, *, to: str | None = None, **ctx) -> OutboundEmail:
    """Queue a security notice to `user` (or to `to`, e.g. the old address
    after an email change) in the caller's transaction. `kind` is one of
    SECURITY_NOTICES; `ctx` adds details the template shows (actor,
    permissions, factor, old_email, new_email, ...)."""
    if kind not in SECURITY_NOTICES:
        raise ValueError(f"unknown security notice {kind!r}")
    context = {
        "user": user,
        "kind": kind,
        "headline": SECURITY_NOTICES[kind],
        "when": timezone.now(),
        "account_link": site_link("/account/"),
        "forgot_link": site_link("/password/forgot/"),
        **ctx,
    }
    return email_queue(to=to or user.email, template="security_notice", context=context, user=user)
