"""Shared steps for browser journeys."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.conftest import STRONG_PASSWORD


def totp_code(device) -> str:
    """A code the device accepts now and that was not used yet (django-otp
    refuses a code from a time step at or before the last one used)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    now_t = totp.t()
    offset = max(0, device.last_t - now_t + 1)
    totp.time = time.time() + offset * device.step
    return str(totp.token()).zfill(device.digits)


def ensure_device(email: str):
    """A confirmed authenticator app for a user the MFA policy requires one
    of (managers, by default); None when the policy does not require it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from accounts.security import mfa_required

    user = User.objects.get(email=email)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None and mfa_required(user):
        device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    return device


def sign_in(page, base_url, email, password=STRONG_PASSWORD, *, next_path=""):
    """Sign in through the real pages: password, then the code step when
    the user has (or, by policy, must have) an authenticator app; then to
    `next_path` when given (the sign-in page's `next`), else the overview."""
    device = ensure_device(email.strip().lower())
    page.goto(f"{base_url}/login/" + (f"?{urlencode({'next': next_path})}" if next_path else ""))
    submit_sign_in(page, email, password)
    page.wait_for_load_state()
    if device is not None and "/login/mfa/" in page.url:
        page.get_by_label("Code").fill(totp_code(device))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()


def submit_sign_in(page, email, password=STRONG_PASSWORD):
    """Fill in the sign-in form the page shows and send it (what comes
    next, such as the code step, is left to the caller)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_as(page, base_url, email, path, *, size=None):
    """Sign in as `email` and land on `path` (the sign-in page's `next`,
    as a person following a link to a page would), at `size` (width,
    height) when given."""
    if size:
        width, height = size
        page.set_viewport_size({"width": width, "height": height})
    sign_in(page, base_url, email, next_path=path)
    page.wait_for_url(lambda url: "/login/" not in url)


def preview_ban_of_everyone(page):
    """On the users list: tick every user on the page, preview a batch ban,
    and check the dry run skips the owner and the signed-in admin."""
    page.get_by_label("Select all on this page").check()
    page.get_by_label("Batch action").select_option("ban")
    page.get_by_role("button", name="Preview batch").click()
    page.wait_for_selector("h1:has-text('Ban: preview')")
    expect(page.get_by_text("The owner cannot be banned.")).to_be_visible()
    expect(page.get_by_text("You cannot ban yourself.")).to_be_visible()
