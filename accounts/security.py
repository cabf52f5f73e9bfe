"""Reads for sessions and MFA: who must use MFA, which factors a user has,
their open sessions and how to show a user agent to people.

Nothing here changes anything; `accounts.services.sessions` and
`accounts.services.mfa` do.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from ua_parser import parse as ua_parse

from accounts.models import UserSession
from rbac.permissions import MANAGEMENT_PERMISSIONS


def mfa_required(user) -> bool:
    """Whether settings.MFA_POLICY obliges `user` to use a second factor.
    An unknown policy counts as "everyone" (fail closed)."""
    return mfa_required_for_permissions(lambda: user.permissions)


def mfa_required_for_permissions(permissions) -> bool:
    """The same rule for someone who will hold `permissions` (a set, or a
    callable returning it, only called when the policy depends on it): an
    invited user before they accept."""
    policy = settings.MFA_POLICY
    if policy == "none":
        return False
    if policy == "managers":
        held = permissions() if callable(permissions) else permissions
        return bool(set(held) & MANAGEMENT_PERMISSIONS)
    return True


def locked_per_address(user, permissions=None) -> bool:
    """Whether failed sign-ins lock `user` only for the address they came
    from: the owner and anyone who manages users (the holders strangers most
    want to lock out). Their attacker is stopped by the per-address budget
    (`accounts.services.throttling`) and by the second factor.
    `permissions`: the user's effective permissions when the caller has
    read them already (`rbac.selectors.prime_permissions`)."""
    if user.is_owner:
        return True
    held = user.permissions if permissions is None else permissions
    return bool(held & MANAGEMENT_PERMISSIONS)


def has_mfa(user) -> bool:
    """A confirmed authenticator app or passkey: what makes sign-in ask for
    a second factor (and what the MFA policy counts)."""
    apps = TOTPDevice.objects.filter(user=user, confirmed=True).values("user_id")
    keys = WebAuthnCredential.objects.filter(user=user, confirmed=True).values("user_id")
    return apps.union(keys).exists()  # one query


def has_passkey(user) -> bool:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


# --- factors ------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One removable factor as shown to people and named in URLs and the
    API: `totp-<pk>` for an authenticator app, `passkey-<pk>` for a passkey,
    `recovery-<pk>` for a set of recovery codes."""

    id: str
    kind: str
    label: str
    created_at: object
    last_used_at: object
    remaining: int | None = None


_KINDS = {"totp": TOTPDevice, "passkey": WebAuthnCredential, "recovery": StaticDevice}


def factor_id(device) -> str:
    kind = next(kind for kind, model in _KINDS.items() if isinstance(device, model))
    return f"{kind}-{device.pk}"


def factor_device(user, factor: str):
    """The device of `user` named by a factor id, or None (also for another
    user's device or a malformed id)."""
    kind, _, pk = (factor or "").partition("-")
    if not pk.isdigit():
        return None
    model = _KINDS.get(kind)
    if model is None:
        return None
    return model.objects.filter(user=user, pk=int(pk), confirmed=True).first()


_KIND_ORDER = {"totp": 0, "passkey": 1, "recovery": 2}
_DEFAULT_LABELS = {"totp": "Authenticator app", "passkey": "Passkey", "recovery": "Recovery codes"}


_FACTOR_ROWS = (
    "SELECT '{kind}', {t}.{id}, {t}.{name}, {t}.{created_at}, {t}.{last_used_at}, {left} "
    "FROM {t} WHERE {t}.{user} = %s AND {t}.{confirmed} = %s"
)
_CODES_LEFT = "(SELECT COUNT(*) FROM {tokens} WHERE {tokens}.{device} = {t}.{id})"


def _factors_sql(quote) -> str:
    """The three kinds in one UNION ALL. Written in SQL: the ORM spent
    ~1.9 ms of CPU composing it (the recovery codes' count most), the
    statement itself ~0.15 ms. Tables and columns from the models, quoted;
    values are parameters."""

    def names(model) -> dict:
        fields = ("id", "name", "created_at", "last_used_at", "user", "confirmed")
        found = {f: quote(model._meta.get_field(f).column) for f in fields}
        return {"t": quote(model._meta.db_table), **found}

    codes = names(StaticDevice)
    left = _CODES_LEFT.format(
        tokens=quote(StaticToken._meta.db_table),
        device=quote(StaticToken._meta.get_field("device").column),
        **codes,
    )
    return " UNION ALL ".join(
        (
            _FACTOR_ROWS.format(kind="totp", left="CAST(NULL AS bigint)", **names(TOTPDevice)),
            _FACTOR_ROWS.format(kind="passkey", left="NULL", **names(WebAuthnCredential)),
            _FACTOR_ROWS.format(kind="recovery", left=left, **codes),
        )
    )


def _aware(value):
    """SQLite gives a raw statement's timestamps naive (stored in UTC)."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


def factors_for_user(user) -> list[Factor]:
    """Confirmed factors: authenticator apps, passkeys, recovery codes
    (how many codes are left), each kind in the order added. One query."""
    connection = connections[router.db_for_read(TOTPDevice)]
    user_id = TOTPDevice._meta.get_field("user").get_db_prep_value(user.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(_factors_sql(connection.ops.quote_name), [user_id, True] * 3)
        rows = sorted(cursor.fetchall(), key=lambda r: (_KIND_ORDER[r[0]], r[1]))
    return [
        Factor(
            id=f"{kind}-{pk}",
            kind=kind,
            label="Recovery codes" if kind == "recovery" else name or _DEFAULT_LABELS[kind],
            created_at=_aware(created_at),
            last_used_at=_aware(last_used_at),
            remaining=left,
        )
        for kind, pk, name, created_at, last_used_at, left in rows
    ]


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- sessions -------------------------------------------------------------------


def open_sessions(user):
    """The user's sessions that have not ended, most recently seen first."""
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by(
        "-last_seen_at", "-id"
    )


@dataclass(frozen=True)
class UserAgent:
    """A browser and operating system as people read them ("Firefox 128",
    "Windows"), parsed with ua-parser (the uap-core rules, kept up to date
    upstream) -- not with patterns of our own."""

    browser: str
    os: str

    def __str__(self) -> str:
        return f"{self.browser} on {self.os}" if self.os else self.browser


@functools.lru_cache(maxsize=2048)
def parse_user_agent(user_agent: str) -> UserAgent:
    """The browser (family and major version) and operating system (family)
    of a User-Agent header; "Unknown browser" and "" when it says nothing
    the rules know."""
    result = ua_parse((user_agent or "")[:500])
    agent, system = result.user_agent, result.os
    browser = "Unknown browser"
    if agent is not None and agent.family and agent.family != "Other":
        browser = f"{agent.family} {agent.major}" if agent.major else agent.family
    os_name = system.family if system is not None and system.family != "Other" else ""
    return UserAgent(browser=browser, os=os_name)


def describe_user_agent(user_agent: str) -> str:
    """ "Firefox 128 on Windows" -- enough to recognise a device."""
    return str(parse_user_agent(user_agent or ""))
