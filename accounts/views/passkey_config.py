"""What django-otp-webauthn's browser scripts read from a page
(`#otp_webauthn_config`): our URLs for each ceremony, never the package's."""

from __future__ import annotations

from django.middleware import csrf
from django.urls import reverse

_ROUTES = {
    "register": ("account:passkey_register_begin", "account:passkey_register_complete"),
    "reauth": ("account:passkey_reauth_begin", "account:passkey_reauth_complete"),
    "login": ("login_passkey_begin", "login_passkey_complete"),
}


def passkey_config(request, purpose: str) -> dict:
    """What django-otp-webauthn's scripts read from the page (`register`,
    `reauth` or `login`): our URLs."""
    begin, complete = (reverse(name) for name in _ROUTES[purpose])
    register = purpose == "register"
    return {
        "csrfToken": csrf.get_token(request),
        "nextFieldSelector": "input[name='next']",
        "autocompleteLoginFieldSelector": None,
        "beginRegistrationUrl": begin if register else "",
        "completeRegistrationUrl": complete if register else "",
        "beginAuthenticationUrl": "" if register else begin,
        "completeAuthenticationUrl": "" if register else complete,
    }
