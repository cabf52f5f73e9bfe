"""Budgets for failures that do not depend on which account is named: failed
sign-ins per client address and across all addresses, and wrong API keys
per client address. Past its budget an address is refused (429) before any
password or key is checked, with the same words whatever account it names,
so a refusal neither costs a hash nor tells which accounts exist.

Counts live in `accounts.ratelimit` (the shared cache, or the database
while the cache is down), so every web process spends the same budget. A
refusal is recorded once per address and window, not once per request: a
spray leaves one event saying it was stopped, not thousands.

The client address is `audit.context.client_ip`, which believes
X-Forwarded-For only for TRUSTED_PROXY_COUNT hops.
"""

from __future__ import annotations

from django.conf import settings

from accounts.ratelimit import client_ip, count, hit
from audit import events
from audit import services as audit
from audit.services import Target

SIGNIN_REFUSED = "Too many failed sign-ins from your network. Wait a few minutes and try again."
API_KEY_REFUSED = "Too many wrong API keys from this address; try again later."

_GLOBAL = "signin:global:all"


def _address(request) -> str:
    return client_ip(request)


def _first_in_window(key: str, window: int) -> bool:
    """True once per `key` and window: the one request that records."""
    return hit(f"noted:{key}", limit=1, window=window)


def _address_target(ip: str) -> Target:
    return Target(type="address", id=ip, label=ip)


# --- sign-in -------------------------------------------------------------------


def signin_budget(request) -> int:
    """The failed sign-ins this request's address may spend in the window:
    its own budget, or the strained one while all addresses together have
    spent the global budget."""
    window = settings.SIGNIN_FAILURE_WINDOW
    if count(_GLOBAL, window=window) >= settings.SIGNIN_FAILURES_GLOBAL:
        strained = settings.SIGNIN_FAILURES_PER_ADDRESS_STRAINED
        return min(strained, settings.SIGNIN_FAILURES_PER_ADDRESS)
    return settings.SIGNIN_FAILURES_PER_ADDRESS


def signin_refused(request) -> bool:
    """Whether this address has spent its sign-in failure budget. Asked
    before the password is checked; the first refusal of the window is
    recorded."""
    window = settings.SIGNIN_FAILURE_WINDOW
    ip = _address(request)
    key = f"signin:ip:{ip}"
    budget = signin_budget(request)
    if count(key, window=window) < budget:
        return False
    if _first_in_window(key, window):
        audit.record(
            events.LOGIN_THROTTLED,
            actor=None,
            actor_label=ip,
            target=_address_target(ip),
            outcome="denied",
            reason=(
                f"{budget} failed sign-ins from this address within {window // 60} minutes; "
                "further attempts from it are refused (429) without checking a password "
                "until the window ends. Recorded once per window."
            ),
        )
    return True


def signin_failed(request) -> None:
    """Spend one failure of this address's budget and of the global one."""
    window = settings.SIGNIN_FAILURE_WINDOW
    ip = _address(request)
    hit(f"signin:ip:{ip}", limit=settings.SIGNIN_FAILURES_PER_ADDRESS, window=window)
    # Spent once the count reaches the budget (what `signin_budget` asks).
    spent = not hit(_GLOBAL, limit=settings.SIGNIN_FAILURES_GLOBAL - 1, window=window)
    if spent and _first_in_window(_GLOBAL, window):
        audit.record(
            events.LOGIN_THROTTLED,
            actor=None,
            actor_label="all addresses",
            target=Target(type="address", id="*", label="all addresses"),
            outcome="denied",
            reason=(
                f"{settings.SIGNIN_FAILURES_GLOBAL} failed sign-ins from all addresses within "
                f"{window // 60} minutes; each address may now fail only "
                f"{settings.SIGNIN_FAILURES_PER_ADDRESS_STRAINED} times until the window ends."
            ),
        )


# --- API keys ------------------------------------------------------------------


def api_key_refused(request) -> bool:
    """Whether this address has presented too many wrong API keys; asked
    before the key is looked up."""
    key = f"api-key:ip:{_address(request)}"
    window = settings.API_KEY_FAILURE_WINDOW
    return count(key, window=window) >= settings.API_KEY_FAILURES_PER_ADDRESS


def api_key_failed(request) -> None:
    """Count a wrong key against this address. The first wrong key of a
    window is recorded: one event per burst, however long it runs."""
    ip = _address(request)
    key = f"api-key:ip:{ip}"
    window = settings.API_KEY_FAILURE_WINDOW
    limit = settings.API_KEY_FAILURES_PER_ADDRESS
    hit(key, limit=limit, window=window)
    if _first_in_window(key, window):
        audit.record(
            events.API_KEY_REJECTED,
            actor=None,
            actor_label=ip,
            target=_address_target(ip),
            outcome="failed",
            reason=(
                "A missing, wrong, expired or revoked API key from this address. Further "
                f"wrong keys from it within {window // 60} minutes are counted, not recorded; "
                f"after {limit} the address is refused (429) until the window ends."
            ),
        )
