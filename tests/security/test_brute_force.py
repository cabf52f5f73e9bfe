"""Online guessing (ASVS 2.2.1, NIST 800-63B 5.2.2): 1,000 wrong passwords
against one account, from one address and from 50 spoofed addresses, with
X-Forwarded-For ignored (no trusted proxy) and believed (one proxy). An
ordinary account's lockout key is the account, so no address rotation gets
past it; the address's failure budget answers 429 on top. The owner (and
anyone who manages users) is locked only for the stranger's address: 50
anonymous wrong passwords never keep the owner out."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.views.auth import GENERIC_LOGIN_ERROR
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import code_for, enrol
from tests.conftest import STRONG_PASSWORD, make_user
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

ATTEMPTS = 1000
SPOOFED = 50
TARGET = "client@example.com"


def attempt(client, password, ip, email=TARGET):
    return client.post(
        "/login/",
        {"email": email, "password": password},
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

    make_user(TARGET)
    settings.MFA_POLICY = "none"
    settings.TRUSTED_PROXY_COUNT = proxies
    cache.clear()
    successes = 0
    first_locked = None
    first_429 = None
    for n in range(ATTEMPTS):
        ip = f"198.51.100.{n % addresses + 1}"
        response = attempt(client, f"wrong-guess-{n:04d}", ip)
        if response.status_code == 429:  # the address's budget is spent
            first_429 = first_429 or n + 1
        else:
            assert response.status_code == 200
            assert GENERIC_LOGIN_ERROR in response.content.decode()
        successes += signed_in(client)
        if (
            first_locked is None
            and AuditEvent.objects.filter(action="accounts.login.locked_out").exists()
        ):
            first_locked = n + 1
    # The right password, while locked, from a fresh address (believed only
    # behind the trusted proxy): refused by the account's lock.
    refused = attempt(client, STRONG_PASSWORD, "192.0.2.77")
    one_address = proxies == 0 or addresses == 1
    if one_address:
        assert refused.status_code == 429
    else:
        assert GENERIC_LOGIN_ERROR in refused.content.decode()
    assert not signed_in(client)
    assert successes == 0
    assert first_locked == settings.AXES_FAILURE_LIMIT
    # Failures are counted against the account, not per address.
    assert AccessAttempt.objects.filter(username=TARGET).exists()
    hashed = AuditEvent.objects.filter(action="accounts.login.failed").count()
    assert hashed == settings.AXES_FAILURE_LIMIT - 1  # after that, no password is even checked
    # One address (the header ignored) spends its budget; 50 believed ones do not.
    assert first_429 == (settings.SIGNIN_FAILURES_PER_ADDRESS + 1 if one_address else None)
    figure(
        f"brute-force[{proxies} proxies, {addresses} IPs]",
        attempts=ATTEMPTS + 1,
        successes=successes,
        locked_after=first_locked,
        passwords_checked=hashed + 1,
        first_429_at=first_429,
    )


def test_a_locked_account_opens_again_after_the_cool_off(client, owner, settings):
    from axes.models import AccessAttempt

    make_user(TARGET)
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


@pytest.mark.parametrize("addresses", [1, SPOOFED], ids=["one-address", "50-addresses"])
def test_fifty_anonymous_wrong_passwords_never_keep_the_owner_out(
    client, owner, settings, addresses
):
    """The owner is locked only for the stranger's address(es): from their
    own, the right password and a code still sign them in."""
    settings.MFA_POLICY = "managers"
    settings.TRUSTED_PROXY_COUNT = 1
    device, _codes = enrol(owner)
    statuses = []
    for n in range(50):
        ip = f"198.51.100.{n % addresses + 1}"
        response = attempt(client, f"wrong-guess-{n:02d}", ip, email=owner.email)
        statuses.append(response.status_code)
        assert not signed_in(client)
    # The stranger's own address is shut: locked for the owner, then over budget.
    refused = attempt(client, STRONG_PASSWORD, "198.51.100.1", email=owner.email)
    assert not signed_in(client) and "login_mfa" not in refused.get("Location", "")

    step_one = attempt(client, STRONG_PASSWORD, "192.0.2.10", email=owner.email)
    assert step_one.status_code == 302 and step_one["Location"] == "/login/mfa/"
    step_two = client.post(
        "/login/mfa/",
        {"otp_token": code_for(device, offset_steps=1)},  # the enrolment used this step's
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="192.0.2.10",
    )
    assert step_two.status_code == 302
    assert signed_in(client)
    assert client.session["_auth_user_id"] == str(owner.pk)
    figure(
        f"owner-lockout[{addresses} attacker addresses]",
        wrong_passwords=50,
        locked_for_attacker_after=settings.AXES_FAILURE_LIMIT if addresses == 1 else None,
        first_429_at=statuses.index(429) + 1 if 429 in statuses else None,
        owner_signed_in_with_password_and_code=True,
    )


def test_an_administrator_is_locked_only_for_the_address_that_failed(client, admin_user, settings):
    settings.MFA_POLICY = "none"
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"wrong-{n}", "198.51.100.1", email=admin_user.email)
    assert AuditEvent.objects.filter(action="accounts.login.locked_out").count() == 1
    attempt(client, STRONG_PASSWORD, "198.51.100.1", email=admin_user.email)
    assert not signed_in(client)
    attempt(client, STRONG_PASSWORD, "192.0.2.20", email=admin_user.email)
    assert signed_in(client)
