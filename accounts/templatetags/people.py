"""A person as the list shows them at a glance: initials on a coloured
disc (the colour follows the address, so it stays the same everywhere)."""

from __future__ import annotations

import zlib

from django import template

register = template.Library()

AVATAR_TONES = 8


@register.filter
def initials(user) -> str:
    """Up to two letters: the first and last words of the name, else the
    first letter of the address."""
    words = [w for w in (getattr(user, "name", "") or "").split() if w[:1].isalnum()]
    if words:
        letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    else:
        letters = (getattr(user, "email", "") or "?")[:1]
    return letters.upper()


@register.filter
def avatar_tone(user) -> int:
    email = (getattr(user, "email", "") or "").lower()
    return zlib.crc32(email.encode()) % AVATAR_TONES
