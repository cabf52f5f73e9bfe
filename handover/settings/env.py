"""The environment's helpers and the settings every other part reads: the
base directory, debug, the secret keys and the site's address."""

import hashlib
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
_DEV_SECRET = "dev-insecure-secret-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY or (not DEBUG and SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
# Previous secret keys, newest first: sessions, signed values and sealed
# outbox bodies made under them stay valid while they are listed here.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")

# The audit hash chain is an HMAC under this key, so write access to the
# database alone cannot rewrite history and recompute the hashes. Keep it
# outside the database (and away from whoever administers it). Development
# derives one from SECRET_KEY; production must set it.
_audit_chain_key = os.environ.get("AUDIT_CHAIN_KEY", "")
if not _audit_chain_key and not DEBUG:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must be set when DJANGO_DEBUG=0.")
AUDIT_CHAIN_KEY = (
    _audit_chain_key.encode()
    if _audit_chain_key
    else hashlib.sha256(b"handover.audit-chain:" + SECRET_KEY.encode()).digest()
)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", SITE_URL)
