"""Helpers shared by the session and MFA tests."""

from __future__ import annotations

import time

from django.test import Client
from django_otp.oath import TOTP

from audit.models import AuditEvent
from tests.conftest import STRONG_PASSWORD


def code_for(device, *, offset_steps: int = 0) -> str:
    """The TOTP code the device expects now, or `offset_steps` time steps
    later (django-otp accepts one step either side).

    Near the end of a time step it first waits for the next one: a code
    checked a moment after its step ended matches one step back, and
    django-otp then keeps that as the device's drift (OTP_TOTP_SYNC), so
    the test's next code, one step ahead, would fall outside the window
    (seen under load: a sign-in refused at a step's edge)."""
    into_step = (time.time() - device.t0) % device.step
    if into_step > device.step - 1.5:
        time.sleep(device.step - into_step + 0.05)
    t = TOTP(device.bin_key, device.step, device.t0, device.digits)
    t.time = time.time() + offset_steps * device.step
    return str(t.token()).zfill(device.digits)


def events(action: str) -> list:
    """The audit rows of `action`, oldest first."""
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def enrol(user) -> tuple[object, list[str]]:
    """Give `user` a confirmed authenticator app; returns (device, codes)."""
    from accounts.services import mfa

    device = mfa.totp_enrol_begin(actor=user)
    codes = mfa.totp_enrol_confirm(actor=user, device=device, code=code_for(device))
    device.refresh_from_db()
    return device, codes


def sign_in(email: str, password: str = STRONG_PASSWORD, *, user_agent: str = "") -> Client:
    """A new browser that signs in with the password (the MFA step, if
    any, is left to the test)."""
    client = Client(HTTP_USER_AGENT=user_agent) if user_agent else Client()
    client.post("/login/", {"email": email, "password": password})
    return client


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
