"""Signing in: sessions, authentication backends, password hashing and
rules, lock-out and sign-in budgets, token lifetimes, the MFA policy,
security notices and passkeys."""

import os
from datetime import timedelta
from urllib.parse import urlsplit

from handover.settings.env import SITE_URL, env_bool, env_int

# Sessions live in the database so that ending one takes effect on every
# web process at its next request.
SESSION_ENGINE = "handover.sessions"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: a locked-out attempt is refused before any password hashing.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
    "rbac.backends.RBACBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "handover.hashers.OWASPArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lockout: 10 failures per account per hour; the account key is the
# normalised email, so case variants share one counter. An account that
# manages users (the owner, anyone holding a management permission) is
# locked only for the address the failures came from, so strangers cannot
# lock its holder out; the per-address budget below stops the stranger
# (accounts.auth.axes_lockout_parameters).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(hours=1)
AXES_LOCKOUT_PARAMETERS = "accounts.auth.axes_lockout_parameters"
# axes.W006 asks for the IP in the lockout key. An ordinary account's key is
# the account alone: a per-IP lock lets one client behind a shared address
# lock out everyone there, and rotating user agents or cookies does not
# change the account key. Per-address budgets are kept separately.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Failed sign-ins budgeted per client address and across all addresses in
# one window (accounts.services.throttling): past its budget an address is
# answered 429 before any password is checked; once all addresses together
# have spent the global budget, each address's budget shrinks to the
# strained one until the window ends.
SIGNIN_FAILURE_WINDOW = env_int("SIGNIN_FAILURE_WINDOW", 900)
SIGNIN_FAILURES_PER_ADDRESS = env_int("SIGNIN_FAILURES_PER_ADDRESS", 30)
SIGNIN_FAILURES_GLOBAL = env_int("SIGNIN_FAILURES_GLOBAL", 1000)
SIGNIN_FAILURES_PER_ADDRESS_STRAINED = env_int("SIGNIN_FAILURES_PER_ADDRESS_STRAINED", 5)
# Wrong API keys per client address in one window; then 429.
API_KEY_FAILURE_WINDOW = env_int("API_KEY_FAILURE_WINDOW", 600)
API_KEY_FAILURES_PER_ADDRESS = env_int("API_KEY_FAILURES_PER_ADDRESS", 20)
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
AXES_CLIENT_IP_CALLABLE = "audit.context.client_ip_for_axes"
AXES_LOCKOUT_CALLABLE = "accounts.views.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2", "token", "otp_token"]

# Number of reverse proxies in front of the app that append to X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)


# Token lifetimes and account policy.
INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7))
PASSWORD_RESET_TTL = timedelta(hours=env_int("PASSWORD_RESET_TTL_HOURS", 24))
MAGIC_LINK_TTL = timedelta(minutes=env_int("MAGIC_LINK_TTL_MINUTES", 15))
EMAIL_VERIFY_TTL = timedelta(days=env_int("EMAIL_VERIFY_TTL_DAYS", 3))
ALLOW_UNVERIFIED_LOGIN = env_bool("ALLOW_UNVERIFIED_LOGIN", True)
# MFA policy: "none", "managers" (anyone holding a management permission) or "everyone".
MFA_POLICY = os.environ.get("MFA_POLICY", "managers")
REAUTH_WINDOW = timedelta(minutes=env_int("REAUTH_WINDOW_MINUTES", 10))
# Security notices (issue 26), each on by default: a sign-in from a new
# device or browser (with a "This wasn't me" link valid this many days), a
# ban, a disable, a second factor added.
SECURITY_NOTICE_NEW_DEVICE = env_bool("SECURITY_NOTICE_NEW_DEVICE", True)
SIGN_IN_REPORT_TTL = timedelta(days=env_int("SIGN_IN_REPORT_TTL_DAYS", 7))
SECURITY_NOTICE_BANNED = env_bool("SECURITY_NOTICE_BANNED", True)
SECURITY_NOTICE_DISABLED = env_bool("SECURITY_NOTICE_DISABLED", True)
SECURITY_NOTICE_FACTOR_ADDED = env_bool("SECURITY_NOTICE_FACTOR_ADDED", True)
OTP_TOTP_ISSUER = "Handover"
# Passkeys (WebAuthn, django-otp-webauthn) as a second factor, never alone:
# the password comes first. The relying party is SITE_URL's host and the
# only origin SITE_URL itself, read when each ceremony runs
# (accounts.passkeys.PasskeyHelper); these two are for the package's checks.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_RP_NAME = "Handover"
OTP_WEBAUTHN_RP_ID = urlsplit(SITE_URL).hostname or "localhost"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [SITE_URL]
if not SITE_URL.startswith(("https://", "http://localhost")):
    # Browsers offer passkeys only to https sites and to localhost (never to
    # an IP address such as the default 127.0.0.1): elsewhere the pages
    # offer no passkey, which is not a configuration error.
    SILENCED_SYSTEM_CHECKS += ["otp_webauthn.E031"]
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.PasskeyHelper"
