"""Checking what people type before a service acts on it: email addresses
(one function, one message), profile metadata and phone numbers, and the
roles and permission templates a new account or invitation asks for."""

from __future__ import annotations

import json
import re
import unicodedata

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import User, email_for_people, normalize_email
from rbac.models import Role
from rbac.permissions import template_permissions, validate_permissions

METADATA_MAX_BYTES = 8 * 1024
# Deeper than any real profile needs; bounds every recursive walk over it
# (JSON encoding, the audit scrubber, templates).
METADATA_MAX_DEPTH = 20
PHONE_RE = re.compile(r"^\+?[0-9 ().-]{3,32}$")


class UserExists(ValidationError):
    pass


# Scripts that may share one label (UTS 39's "highly restrictive" sets):
# Japanese, Chinese and Korean writing, each with Latin.
_SCRIPTS_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# First words of Unicode character names that are not (or not one) script.
_NAME_TO_SCRIPT = {"CJK": "HAN", "KATAKANA-HIRAGANA": None, "MODIFIER": None}


def _script(char: str) -> str | None:
    """The script of a letter, from its Unicode name ("CYRILLIC SMALL
    LETTER IE"); None for what every script shares (digits, hyphens,
    marks)."""
    if not unicodedata.category(char).startswith("L"):
        return None
    if char.isascii():
        return "LATIN"
    word = unicodedata.name(char, "").split(" ")[0]
    return _NAME_TO_SCRIPT.get(word, word) or None


def _decoded(label: str) -> str:
    """An encoded label (`xn--...`) as typed; any other as it is. One label
    at a time, so a broken label elsewhere cannot hide a look-alike."""
    if not label.startswith("xn--"):
        return label
    try:
        return idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError):
        return label


def mixed_scripts(domain: str) -> list[str]:
    """The scripts of the first label of `domain` (encoded or not) that
    mixes alphabets the way look-alike domains do (`exаmple` with a
    Cyrillic `а`); [] when every label keeps to one script."""
    for label in domain.split("."):
        scripts = {s for s in map(_script, _decoded(label)) if s}
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPTS_TOGETHER):
            return sorted(scripts)
    return []


def validate_email_address(email: str, *, user=None, unique: bool = True) -> str:
    """The normalised address (`normalize_email`: NFKC, lower case, the
    domain IDNA-encoded), or a ValidationError people can read: not an
    address at all (`invalid_email`), a domain that mixes alphabets like a
    look-alike (`mixed_script`), or taken by another account than `user`
    (`duplicate_email`, when `unique`)."""
    email = normalize_email(email)
    domain = email.rpartition("@")[2]
    try:
        if not domain.isascii():  # no IDNA 2008 form: not a domain mail can reach
            raise ValidationError("")
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            "Enter a valid email address (%(email)s is not one).",
            code="invalid_email",
            params={"email": email or "empty"},
        ) from None
    scripts = mixed_scripts(domain)
    if scripts:
        raise ValidationError(
            "The domain of %(email)s mixes alphabets (%(scripts)s), as look-alike addresses "
            "do. Type it in one alphabet.",
            code="mixed_script",
            params={
                "email": email_for_people(email),
                "scripts": " and ".join(s.title() for s in scripts),
            },
        )
    if unique:
        taken = User.objects.filter(email=email)
        if user is not None:
            taken = taken.exclude(pk=user.pk)
        if taken.exists():
            raise UserExists(
                "A user with this email already exists.",
                code="duplicate_email",
                params={"email": email},
            )
    return email


def resolve_grants(*, template: str | None, permissions) -> list[str]:
    """A template's permissions plus an explicit list, validated."""
    perms = set(validate_permissions(permissions or []))
    if template:
        perms |= template_permissions(template)
    return sorted(perms)


def resolve_roles(slugs) -> list[Role]:
    slugs = list(dict.fromkeys(slugs or []))
    roles = list(Role.objects.filter(slug__in=slugs))
    unknown = sorted(set(slugs) - {r.slug for r in roles})
    if unknown:
        raise ValidationError("Unknown role: %s." % ", ".join(unknown), code="unknown_role")
    if any(r.slug == "owner" for r in roles):
        raise ValidationError(
            "The owner role cannot be assigned; transfer ownership instead.", code="owner_role"
        )
    return roles


def _depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` levels deep,
    walked without recursion so that hostile input cannot exhaust the
    stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def validate_metadata(value) -> dict:
    """Metadata is a JSON object of at most METADATA_MAX_BYTES once encoded,
    nested at most METADATA_MAX_DEPTH levels."""
    too_deep = ValidationError(
        "Metadata is nested too deeply (at most %(limit)d levels).",
        code="too_deep",
        params={"limit": METADATA_MAX_DEPTH},
    )
    if value is None:
        return {}
    if isinstance(value, str):
        if len(value.encode()) > METADATA_MAX_BYTES * 4:
            raise ValidationError(
                "Metadata is too large: %(size)d bytes (at most %(limit)d).",
                code="too_large",
                params={"size": len(value.encode()), "limit": METADATA_MAX_BYTES},
            )
        try:
            value = json.loads(value) if value.strip() else {}
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:
            raise ValidationError(
                f"Metadata is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
                code="invalid_json",
            ) from None
    if not isinstance(value, dict):
        raise ValidationError("Metadata must be a JSON object ({...}).", code="not_object")
    if _depth_exceeds(value, METADATA_MAX_DEPTH):
        raise too_deep
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError(
            "Metadata must contain only JSON values.", code="invalid_json"
        ) from None
    if len(encoded.encode()) > METADATA_MAX_BYTES:
        raise ValidationError(
            "Metadata is too large: %(size)d bytes (at most %(limit)d).",
            code="too_large",
            params={"size": len(encoded.encode()), "limit": METADATA_MAX_BYTES},
        )
    return value


def validate_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not PHONE_RE.match(value):
        raise ValidationError(
            "Enter a phone number with digits, spaces and + ( ) . - only.", code="invalid_phone"
        )
    return value
