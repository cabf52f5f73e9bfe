"""One-time tokens (password reset, sign-in link, email verification).

A token is >=128 bits from `secrets`, shown once, stored only as a SHA-256
hash and compared by looking up that hash (the lookup is on a keyed digest,
so timing reveals nothing about the plaintext).
"""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from accounts.models import OneTimeToken


def new_token() -> tuple[str, str]:
    """(plaintext, hash). 32 random bytes = 256 bits."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_revoke_all(user) -> int:
    """Kill every outstanding token of `user` (password change, ban,
    disable, delete). The caller audits the change that caused it."""
    return OneTimeToken.objects.filter(user=user, used_at__isnull=True).update(
        used_at=timezone.now()
    )


def tokens_revoke_for_users(user_ids) -> int:
    return OneTimeToken.objects.filter(user_id__in=list(user_ids), used_at__isnull=True).update(
        used_at=timezone.now()
    )
