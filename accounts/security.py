"""Reads for sessions and MFA: who must use MFA, which factors a user has,
their open sessions and how to show a user agent to people.

Nothing here changes anything; `accounts.services.sessions` and
`accounts.services.mfa` do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

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


def locked_per_address(user) -> bool:
    """Whether failed sign-ins lock `user` only for the address they came
    from: the owner and anyone who manages users (the holders strangers most
    want to lock out). Their attacker is stopped by the per-address budget
    (`accounts.services.throttling`) and by the second factor."""
    return user.is_owner or bool(user.permissions & MANAGEMENT_PERMISSIONS)


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


def factors_for_user(user) -> list[Factor]:
    """Confirmed factors: authenticator apps, passkeys, recovery codes.
    Three queries."""
    factors = [
        Factor(
            id=factor_id(d),
            kind="totp",
            label=d.name or "Authenticator app",
            created_at=d.created_at,
            last_used_at=d.last_used_at,
        )
        for d in TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id")
    ]
    factors += [
        Factor(
            id=factor_id(d),
            kind="passkey",
            label=d.name or "Passkey",
            created_at=d.created_at,
            last_used_at=d.last_used_at,
        )
        for d in WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("id")
    ]
    for d in (
        StaticDevice.objects.filter(user=user, confirmed=True)
        .annotate(left=Count("token_set"))
        .order_by("id")
    ):
        factors.append(
            Factor(
                id=factor_id(d),
                kind="recovery",
                label="Recovery codes",
                created_at=d.created_at,
                last_used_at=d.last_used_at,
                remaining=d.left,
            )
        )
    return factors


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- sessions -------------------------------------------------------------------


def open_sessions(user):
    """The user's sessions that have not ended, most recently seen first."""
    return UserSession.objects.filter(user=user, ended_at__isnull=True).order_by(
        "-last_seen_at", "-id"
    )


_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
    ("curl", re.compile(r"^curl/(\d+)")),
    ("Python", re.compile(r"python-(?:requests|httpx|urllib)[/ ]?(\d*)")),
]
_SYSTEMS = [
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux|X11")),
]


def describe_user_agent(user_agent: str) -> str:
    """ "Firefox 128 on Windows" -- enough to recognise a device, without a
    user-agent database. Unknown agents read "Unknown browser"."""
    ua = user_agent or ""
    browser = "Unknown browser"
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            browser = f"{name} {match.group(1)}".strip()
            break
    system = next((name for name, pattern in _SYSTEMS if pattern.search(ua)), "")
    return f"{browser} on {system}" if system else browser
