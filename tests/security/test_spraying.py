"""Password spraying (ASVS 5.0 6.3.1, 6.1.1; NIST 800-63B 5.2.2): many
accounts tried from one address, and from many addresses at once. Failed
sign-ins are budgeted per client address and across all addresses, as well
as per account; past a budget the address is answered 429 before any
password is checked, in the same words whichever account it names."""

from __future__ import annotations

import re
import time

import pytest

from accounts.services.throttling import SIGNIN_REFUSED
from accounts.views.auth import GENERIC_LOGIN_ERROR
from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD, make_user, make_users
from tests.security.conftest import figure

pytestmark = pytest.mark.django_db

SPRAYED = 100
ATTACKER = "203.0.113.50"


def post_login(client, email, password, ip):
    return client.post("/login/", {"email": email, "password": password}, REMOTE_ADDR=ip)


def blank_csrf(response) -> str:
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", body)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", body)


def test_a_hundred_accounts_sprayed_from_one_address_are_refused_with_429_after_the_budget(
    client, owner, settings
):
    settings.MFA_POLICY = "none"
    budget = settings.SIGNIN_FAILURES_PER_ADDRESS
    accounts = make_users(SPRAYED, prefix="sprayed")
    statuses, refused_bodies = [], set()
    started = time.perf_counter()
    for user in accounts:
        response = post_login(client, user.email, "Spring2026!", ATTACKER)
        statuses.append(response.status_code)
        if response.status_code == 429:
            # The same words for every account: nothing names or hints at it.
            refused_bodies.add(blank_csrf(response))
            assert user.email not in response.content.decode()
            assert response["Retry-After"] == str(settings.SIGNIN_FAILURE_WINDOW)
        else:
            assert GENERIC_LOGIN_ERROR in response.content.decode()
    elapsed = time.perf_counter() - started

    first_429 = statuses.index(429) + 1
    assert first_429 == budget + 1
    assert statuses[:budget] == [200] * budget
    assert statuses[budget:] == [429] * (SPRAYED - budget)
    assert len(refused_bodies) == 1
    assert SIGNIN_REFUSED in refused_bodies.pop()
    # No password was checked past the budget.
    checked = AuditEvent.objects.filter(action="accounts.login.failed").count()
    assert checked == budget
    # The refusal is on the record once for the burst, not once a request.
    throttled = AuditEvent.objects.filter(action="accounts.login.throttled")
    assert throttled.count() == 1
    assert throttled.get().ip == ATTACKER
    assert throttled.get().outcome == "denied"
    # The right password from the spent address is refused too (nothing is
    # checked), while another address still signs in.
    real = make_user("sprayed-real@example.com").email
    assert post_login(client, real, STRONG_PASSWORD, ATTACKER).status_code == 429
    assert post_login(client, real, STRONG_PASSWORD, "192.0.2.10").status_code == 302
    figure(
        "spraying[100 accounts, one address]",
        budget_per_address=budget,
        window_s=settings.SIGNIN_FAILURE_WINDOW,
        first_429_at_attempt=first_429,
        passwords_checked=checked,
        refused_429=statuses.count(429),
        audit_events_for_refusals=1,
        seconds=f"{elapsed:.2f}",
    )


def test_the_budget_follows_the_address_the_trusted_proxy_saw(client, owner, settings):
    """Behind one trusted proxy, each client address has its own budget;
    without one, X-Forwarded-For is ignored and rotating it gains nothing."""
    settings.MFA_POLICY = "none"
    settings.SIGNIN_FAILURES_PER_ADDRESS = 5
    accounts = make_users(20, prefix="rot")

    def spray(proxies):
        settings.TRUSTED_PROXY_COUNT = proxies
        statuses = []
        for n, user in enumerate(accounts):
            response = client.post(
                "/login/",
                {"email": user.email, "password": "wrong-password-1"},
                REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{100 * proxies + n + 1}",
            )
            statuses.append(response.status_code)
        return statuses

    assert spray(0).count(429) == 15  # one address (the proxy's): 5, then 429
    assert spray(1).count(429) == 0  # 20 client addresses, one failure each


def test_once_all_addresses_spend_the_global_budget_each_address_gets_the_strained_one(
    client, owner, settings
):
    settings.MFA_POLICY = "none"
    settings.SIGNIN_FAILURES_GLOBAL = 40
    settings.SIGNIN_FAILURES_PER_ADDRESS_STRAINED = 3
    accounts = make_users(10, prefix="dist")
    # A distributed spray: 10 addresses, 4 failures each, spends the global budget.
    for n in range(10):
        for user in accounts[:4]:
            response = post_login(client, user.email, "wrong-pass-1", f"198.51.100.{n}")
            assert response.status_code == 200
    assert AuditEvent.objects.filter(action="accounts.login.throttled", target_id="*").count() == 1
    # Every address that already failed 3 times is now refused ...
    assert post_login(client, accounts[5].email, "wrong-pass-1", "198.51.100.0").status_code == 429
    # ... a new one may fail 3 times, then it is refused too ...
    fresh = [post_login(client, accounts[6].email, "wrong", "198.51.100.77") for _ in range(4)]
    assert [r.status_code for r in fresh] == [200, 200, 200, 429]
    # ... and someone who types the right password from a clean address signs in.
    real = make_user("dist-real@example.com").email
    assert post_login(client, real, STRONG_PASSWORD, "192.0.2.99").status_code == 302
    figure(
        "spraying[distributed]",
        global_budget=40,
        strained_per_address=3,
        first_429_after_global=f"failure {3 + 1} of a new address",
    )
