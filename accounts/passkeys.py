"""The WebAuthn relying party for passkeys (django-otp-webauthn's helper,
which wraps py_webauthn): who we are to the browser and which origin we
accept, from SITE_URL when each ceremony runs -- never from the request's
Host header.

Only this helper of the package is used: its views are not routed (they
would sign people in and add factors past our guards, audit and session
rows). `accounts.services.passkeys` runs the ceremonies through our guards;
`accounts.views.passkeys` are the doors.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django_otp_webauthn.helpers import WebAuthnHelper
from webauthn.helpers.structs import ResidentKeyRequirement


class PasskeyHelper(WebAuthnHelper):
    def get_relying_party_domain(self) -> str:
        return urlsplit(settings.SITE_URL).hostname or "localhost"

    def get_relying_party_name(self) -> str:
        return settings.OTP_WEBAUTHN_RP_NAME

    def get_allowed_origins(self) -> list[str]:
        return [settings.SITE_URL.rstrip("/")]

    def get_discoverable_credentials_preference(self) -> ResidentKeyRequirement:
        # A second factor after the password: the server names the
        # credentials, so a security key without resident keys works too.
        return ResidentKeyRequirement.PREFERRED

    def get_credential_name(self, user) -> str:
        return user.email
