"""Handover settings, read from the environment.

With nothing set, the project runs on SQLite with eager Celery tasks and
emails printed to the console (what `make run` needs). Production sets
DJANGO_DEBUG=0, a real DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL and SITE_URL.
"""

# The settings are split by concern (env, database, auth, background); each
# part imports what it reads, and this module gathers them in order.
import os
from pathlib import Path

from csp.constants import NONE, SELF

from handover.logging import logging_config
from handover.settings.env import *  # noqa: F403
from handover.settings.env import BASE_DIR, DEBUG, env_bool, env_int

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "axes",
    "csp",
    "ninja",
    "accounts",
    "rbac",
    "audit",
    "webhooks",
]

MIDDLEWARE = [
    "rbac.middleware.RequestCredentialMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "handover.middleware.ApiAnswersJsonMiddleware",
    "handover.middleware.TokenPagesNoReferrerMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "handover.middleware.RejectNullCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ActiveAccountMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
    "accounts.middleware.DeviceCookieMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SignedOutNoticeMiddleware",
    "accounts.middleware.MFAPolicyMiddleware",
    "accounts.middleware.MustChangePasswordMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Widgets render through templates/django/forms/widgets/, which adds the
# Bootstrap classes, so every form looks right without per-form styling.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "handover.urls"
WSGI_APPLICATION = "handover.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "handover.context_processors.navigation",
            ],
            # `{% url %}` with its argument-less uses cached per process.
            "builtins": ["core.templatetags.links"],
        },
    }
]

from handover.settings.auth import *  # noqa: E402, F403
from handover.settings.background import *  # noqa: E402, F403
from handover.settings.database import *  # noqa: E402, F403

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


# Security headers. CSP allows scripts and styles from this site only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# A response to a URL carrying a one-time token sends no Referer at all
# (handover.middleware.TokenPagesNoReferrerMiddleware).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Logging: one event a line (control characters escaped) and no one-time
# token in any log line or error report (handover/logging.py says how).
LOGGING = logging_config(level=os.environ.get("LOG_LEVEL", "INFO"))
DEFAULT_EXCEPTION_REPORTER = "handover.error_reports.RedactingExceptionReporter"


# Signed-in pages are never stored by browsers or proxies (area PROVE).
MIDDLEWARE += ["handover.middleware.PrivatePagesNotCachedMiddleware"]
# Last, so it is the first to see a view's exception: a bounded wait that
# ran out answers 503 "busy, retry" (issue 17).
MIDDLEWARE += [
    "handover.middleware.BusyAnswersServiceUnavailableMiddleware",
    "handover.middleware.ServiceRefusalMiddleware",
]

# Impersonation (issue 26): viewing the dashboard as another user.
# How long one view lasts at most, in minutes.
IMPERSONATION_MAX_MINUTES = env_int("IMPERSONATION_MAX_MINUTES", 30)
# Let the non-sensitive changes through while viewing as someone (profile,
# ban, disable, unlock, retrying an email). Password, email, factors, keys,
# ownership, links, invitations and jobs stay refused whatever this says.
IMPERSONATION_ALLOW_WRITES = env_bool("IMPERSONATION_ALLOW_WRITES", False)
# Email the user when someone starts viewing as them.
IMPERSONATION_NOTIFY_USER = env_bool("IMPERSONATION_NOTIFY_USER", True)
