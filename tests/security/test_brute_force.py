"""Online guessing (ASVS 2.2.1, NIST 800-63B 5.2.2): 1,000 wrong passwords
against one account, from one address and from 50 spoofed addresses, with
X-Forwarded-For ignored (no trusted proxy) and believed (one proxy). The
lockout key is the account, so no address rotation gets past it."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.views.auth import GENERIC_LOGIN_ERROR
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

ATTEMPTS = 1000
SPOOFED = 50


def attempt(client, password, ip):
    return client.post(
        "/login/",
        {"email": "owner@example.com", "password": password},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR=ip,
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize(
    "proxies,addresses",
    [(0, 1), (0, SPOOFED), (1, SPOOFED)],
    ids=["one-ip", "50-spoofed-ips-no-proxy", "50-ips-trusted-proxy"],
)
def test_a_thousand_wrong_passwords_never_sign_in_and_lock_the_account(
    client, owner, settings, proxies, addresses
):
    from axes.models import AccessAttempt

    settings.MFA_POLICY = "none"
    settings.TRUSTED_PROXY_COUNT = proxies
    cache.clear()
    successes = 0
    first_locked = None
    for n in range(ATTEMPTS):
        ip = f"198.51.100.{n % addresses + 1}"
        response = attempt(client, f"wrong-guess-{n:04d}", ip)
        assert response.status_code == 200
        assert GENERIC_LOGIN_ERROR in response.content.decode()
        successes += signed_in(client)
        if (
            first_locked is None
            and AuditEvent.objects.filter(action="accounts.login.locked_out").exists()
        ):
            first_locked = n + 1
    # The right password, while locked, from a fresh address: refused.
    refused = attempt(client, STRONG_PASSWORD, "192.0.2.77")
    assert GENERIC_LOGIN_ERROR in refused.content.decode()
    assert not signed_in(client)
    assert successes == 0
    assert first_locked == settings.AXES_FAILURE_LIMIT
    # Failures are counted against the account, not per address.
    assert AccessAttempt.objects.filter(username="owner@example.com").exists()
    hashed = AuditEvent.objects.filter(action="accounts.login.failed").count()
    assert hashed == settings.AXES_FAILURE_LIMIT - 1  # after that, no password is even checked
    figure(
        f"brute-force[{proxies} proxies, {addresses} IPs]",
        attempts=ATTEMPTS + 1,
        successes=successes,
        locked_after=first_locked,
        passwords_checked=hashed + 1,
    )


def test_a_locked_account_opens_again_after_the_cool_off(client, owner, settings):
    from axes.models import AccessAttempt

    settings.MFA_POLICY = "none"
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"wrong-{n}", "198.51.100.1")
    attempt(client, STRONG_PASSWORD, "198.51.100.1")
    assert not signed_in(client)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time.replace(year=2000)
    )
    attempt(client, STRONG_PASSWORD, "198.51.100.1")
    assert signed_in(client)
