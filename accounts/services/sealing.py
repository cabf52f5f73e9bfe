"""Sealing email bodies that carry a secret.

An invitation or reset email contains a live token. The outbox must keep
the message until it is sent (the broker may be down), but a database dump
must not reveal a usable token: such bodies are stored sealed with Fernet
(AES-128-CBC + HMAC-SHA256, from the `cryptography` package). The Fernet
keys are derived with HKDF from SECRET_KEY and each of
SECRET_KEY_FALLBACKS: new bodies use the current key, and a body sealed
before a key rotation still opens while its old key is a fallback."""

from __future__ import annotations

import base64
import hashlib
import hmac as stdlib_hmac

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

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
