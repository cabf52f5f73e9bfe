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


def test_wrong_codes_at_the_code_step_spend_the_address_budget(client, owner, settings):
    """Leaked passwords, guessed codes: an attacker holding the passwords
    of many accounts with an authenticator app guesses one code for each
    from one address. Every wrong code spends the address's sign-in budget
    (as a wrong password does); past it the code step answers 429 before
    any code is checked, and so does the password step."""
    from tests.accounts.mfa_helpers import code_for, enrol

    settings.MFA_POLICY = "none"
    settings.SIGNIN_FAILURES_PER_ADDRESS = budget = 5
    accounts = make_users(budget + 3, prefix="coded")
    devices = {user.pk: enrol(user)[0] for user in accounts}
    statuses = []
    for user in accounts:
        step = post_login(client, user.email, "x", ATTACKER)  # make_users' password
        if step.status_code == 429:
            statuses.append(("password", 429))
            continue
        assert step.status_code == 302 and step["Location"] == "/login/mfa/"
        wrong = "000000" if code_for(devices[user.pk]) != "000000" else "111111"
        answer = client.post("/login/mfa/", {"otp_token": wrong}, REMOTE_ADDR=ATTACKER)
        statuses.append(("code", answer.status_code))
        client.post("/logout/")
    codes = [s for kind, s in statuses if kind == "code"]
    assert codes[:budget] == [200] * budget
    # The budget is spent by codes alone: what follows is refused.
    assert statuses[budget:] == [("password", 429)] * 3
    checked = AuditEvent.objects.filter(action="accounts.login.failed", reason="Wrong code.")
    assert checked.count() == budget


def test_a_spent_address_cannot_guess_codes_for_a_password_it_already_passed(
    client, owner, settings
):
    """The password step passed before the budget ran out: the code step is
    refused with 429 (no code checked, django-otp's counter untouched),
    while the owner of the account signs in from their own address."""
    from tests.accounts.mfa_helpers import code_for, enrol

    settings.MFA_POLICY = "none"
    settings.SIGNIN_FAILURES_PER_ADDRESS = 3
    victim = make_user("coded-victim@example.com")
    device, _ = enrol(victim)
    assert post_login(client, victim.email, STRONG_PASSWORD, ATTACKER).status_code == 302
    wrong = "000000" if code_for(device) != "000000" else "111111"
    answers = [
        client.post("/login/mfa/", {"otp_token": wrong}, REMOTE_ADDR=ATTACKER).status_code
        for _ in range(3)
    ]
    # django-otp's own throttle answers the 2nd and 3rd (no code checked):
    # those refusals do not spend the budget, so wait them out.
    assert answers[0] == 200
    for _ in range(2):
        device.refresh_from_db()
        device.throttle_reset(commit=True)
        client.post("/login/mfa/", {"otp_token": wrong}, REMOTE_ADDR=ATTACKER)
    device.refresh_from_db()
    failures = device.throttling_failure_count
    refused = client.post("/login/mfa/", {"otp_token": code_for(device)}, REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429
    assert SIGNIN_REFUSED in refused.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == failures
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="accounts.login.throttled").count() == 1
