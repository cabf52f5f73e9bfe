"""Handover settings, read from the environment.

With nothing set, the project runs on SQLite with eager Celery tasks and
emails printed to the console (what `make run` needs). Production sets
DJANGO_DEBUG=0, a real DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL and SITE_URL.
"""

import hashlib
import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from handover.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
_DEV_SECRET = "dev-insecure-secret-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY or (not DEBUG and SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
# Previous secret keys, newest first: sessions, signed values and sealed
# outbox bodies made under them stay valid while they are listed here.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")

# The audit hash chain is an HMAC under this key, so write access to the
# database alone cannot rewrite history and recompute the hashes. Keep it
# outside the database (and away from whoever administers it). Development
# derives one from SECRET_KEY; production must set it.
_audit_chain_key = os.environ.get("AUDIT_CHAIN_KEY", "")
if not _audit_chain_key and not DEBUG:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must be set when DJANGO_DEBUG=0.")
AUDIT_CHAIN_KEY = (
    _audit_chain_key.encode()
    if _audit_chain_key
    else hashlib.sha256(b"handover.audit-chain:" + SECRET_KEY.encode()).digest()
)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", SITE_URL)

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
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Read-only pages (`core.replica.replica_reads`: the lists, the user page,
# the audit log, the overview) read from a streaming replica when
# DATABASE_REPLICA_URL names one; writes, sign-in and every service stay on
# the primary (README "Capacity").
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
# Which kind of process this is: "web" (handover/wsgi.py and asgi.py set
# it), "worker" (the Procfile's worker line sets it; a `celery ... worker`
# command line counts too), or "" (management commands, beat, tests).
_PROCESS = os.environ.get("HANDOVER_PROCESS") or (
    "worker" if "celery" in sys.argv[0] and "worker" in sys.argv[1:] else ""
)
# Statement timeout (PostgreSQL): no page may wait on one slow or blocked
# statement until gunicorn kills the worker (30 s) -- it is cancelled after
# this many ms and answers 503 "busy, retry". 10 s is far above any page's
# queries (tens of ms) and under gunicorn's timeout. Workers get 120 s: a
# job chunk's set-based statements take seconds at most, and a statement
# still running after two minutes is stuck, not working (the job's task
# retries). Management commands (audit_prune, migrations) get none: their
# long statements are legitimate. Set DATABASE_STATEMENT_TIMEOUT_MS=0 to
# disable, or set it for any process.
DATABASE_STATEMENT_TIMEOUT_MS = env_int(
    "DATABASE_STATEMENT_TIMEOUT_MS", {"web": 10000, "worker": 120000}.get(_PROCESS, 0)
)
# Lock timeout for workers (issue 28, F6): a job chunk that waits more than
# this for a row lock held by someone else gives up with a transient error
# and its task retries later, instead of holding a worker slot (and the
# emails queued behind it) for as long as the lock is held. Web requests
# are bounded by the statement timeout; the audit chain's lock has its own
# (AUDIT_LOCK_TIMEOUT_MS).
DATABASE_LOCK_TIMEOUT_MS = env_int("DATABASE_LOCK_TIMEOUT_MS", {"worker": 10000}.get(_PROCESS, 0))
# How long the client waits for any answer on an open connection before
# giving the connection up (handover/postgresql/base.py): the only bound
# when the server holds the connection and says nothing (half-open), where
# the statement timeout never fires. Above the statement timeout, so the
# server's own cancel wins whenever the server is there. 0: no bound.
DATABASE_ANSWER_TIMEOUT_SECONDS = env_float(
    "DATABASE_ANSWER_TIMEOUT_SECONDS",
    DATABASE_STATEMENT_TIMEOUT_MS / 1000 + 5 if DATABASE_STATEMENT_TIMEOUT_MS else 0,
)
# The check Django runs on a persistent connection before a request uses it
# (CONN_HEALTH_CHECKS): a connection that does not answer SELECT 1 within
# this is replaced, bounded by connect_timeout below.
DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS = env_float("DATABASE_HEALTH_CHECK_TIMEOUT_SECONDS", 1)
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["ENGINE"] = "handover.postgresql"
    _server_options = " ".join(
        f"-c {name}={value}"
        for name, value in (
            ("statement_timeout", DATABASE_STATEMENT_TIMEOUT_MS),
            ("lock_timeout", DATABASE_LOCK_TIMEOUT_MS),
        )
        if value
    )
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # libpq: a new connection gives up after this many seconds (2 at
            # least, libpq's floor), so a half-open or unreachable server
            # answers 503 within seconds, not when gunicorn kills the worker.
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3),
            # A peer that vanished (host down, partition) is noticed within
            # about idle + interval * count = 5 + 2 * 3 = 11 s while idle,
            # and data left unacknowledged for tcp_user_timeout ms breaks
            # the connection.
            "keepalives": 1,
            "keepalives_idle": env_int("DATABASE_KEEPALIVES_IDLE", 5),
            "keepalives_interval": env_int("DATABASE_KEEPALIVES_INTERVAL", 2),
            "keepalives_count": env_int("DATABASE_KEEPALIVES_COUNT", 3),
            "tcp_user_timeout": env_int("DATABASE_TCP_USER_TIMEOUT_MS", 10000),
        }
    )
    if _server_options:
        DATABASES["default"]["OPTIONS"]["options"] = _server_options
    if "replica" in DATABASES:  # the same bounds on every wait
        DATABASES["replica"]["ENGINE"] = "handover.postgresql"
        DATABASES["replica"]["OPTIONS"] = dict(DATABASES["default"]["OPTIONS"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default must take a demo's concurrent requests: WAL lets
    # readers run beside the one writer; IMMEDIATE transactions take the
    # write lock at BEGIN (a deferred one that upgrades later fails at once
    # with "database is locked", whatever the timeout); the busy timeout
    # makes a writer wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        }
    )
# /healthz answers within this many seconds whatever the database and Redis
# do (handover/health.py): a dependency that has not answered by then is
# reported unreachable.
HEALTH_CHECK_BUDGET_SECONDS = env_float("HEALTH_CHECK_BUDGET_SECONDS", 0.8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Every Redis call (cache, rate limits, broker publish, health check) waits at
# most this long, so a silent Redis cannot hang a request; after a failure
# Redis is skipped for a while (cache and broker alike), so a request pays
# one such wait at most (issue 28, F4: none over 1.5 s from Redis alone).
# Redis answers in well under a millisecond on a sound network.
REDIS_CONNECT_TIMEOUT = env_float("REDIS_CONNECT_TIMEOUT", 0.5)
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            # Reads miss and writes drop while Redis is unreachable (pages
            # answer from the database); see core/cache.py.
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "handover",
            # A silent Redis (a partition: connections open, nothing flows)
            # costs a request at most these seconds, never gunicorn's 30 s.
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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

# Email: console when no server is configured.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# SMTP waits as RFC 5321 (4.5.3.2) asks (core/smtp.py): EMAIL_TIMEOUT for
# the greeting and each command (5 minutes), 2 for DATA, 3 for the message,
# and EMAIL_DATA_END_TIMEOUT for the reply after it (10 minutes: giving up
# sooner while the server goes on to accept the message sends it twice).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 300)
EMAIL_DATA_END_TIMEOUT = env_int("EMAIL_DATA_END_TIMEOUT", 600)
# The longest one delivery attempt can take: connection and greeting, EHLO,
# MAIL, RCPT and QUIT, DATA, the message, the final reply (40 minutes with
# the defaults). The sending lease below is longer, so no second attempt
# starts while the first may still be talking to the server.
EMAIL_ATTEMPT_BOUND_SECONDS = (
    5 * EMAIL_TIMEOUT + min(EMAIL_TIMEOUT, 120) + min(EMAIL_TIMEOUT, 180) + EMAIL_DATA_END_TIMEOUT
)
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "core.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Handover <no-reply@handover.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

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

# Celery: Redis when REDIS_URL is set, eager (in-process) otherwise.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# How long Redis waits for a reserved (acks_late) task to be acknowledged
# before handing it to another worker: the recovery time after a worker is
# SIGKILLed. The longest unit of work a task does without committing is one
# job chunk (bounded by JOB_LEASE below) or one email send (a few
# EMAIL_TIMEOUTs), so 300 s covers it with room to spare; an hour (Celery's
# default) left a killed job waiting an hour. A task that outlives it is
# harmless: redelivered job tasks serialise on the job row and never redo a
# chunk, and email_deliver skips a row that is sent or not due.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a web request must not hang on a silent or absent broker:
# bounded connect and socket timeouts, and few quick publish retries. The
# outbox row is already committed when a task is published, so a publish
# that gives up loses nothing: the beat sweep queues the row again.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS.update(
    {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "max_retries": 1,
    }
)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TIMEZONE = "UTC"
# After a failed publish, publishing is skipped for this many seconds (the
# rows it would have queued wait for their sweep; core/tasks.py): a silent
# broker costs one request its timeouts, not every request.
BROKER_RETRY_AFTER_SECONDS = env_float("BROKER_RETRY_AFTER_SECONDS", 5)

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

# --- Email outbox (area EMAIL) ---------------------------------------------
# Attempts before a row is `failed`; backoff base*2**(n-1) with jitter, capped.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 6)
EMAIL_RETRY_BASE_SECONDS = float(os.environ.get("EMAIL_RETRY_BASE_SECONDS", "30"))
EMAIL_RETRY_MAX_SECONDS = float(os.environ.get("EMAIL_RETRY_MAX_SECONDS", "3600"))
# A pending email overdue by this long lost its task; the sweep queues it again.
EMAIL_SWEEP_AFTER = timedelta(seconds=env_int("EMAIL_SWEEP_AFTER_SECONDS", 120))
# A delivery attempt takes a "sending" lease (its next_attempt_at moves this
# far ahead) before it talks to SMTP, so the sweep cannot resend a message
# whose "sent" write was lost to a database outage; that write is retried
# for EMAIL_STATUS_RETRY_SECONDS first. Longer than a send
# (EMAIL_ATTEMPT_BOUND_SECONDS) plus that retry window; it is also how long a send cut short
# by a killed worker waits before the sweep tries again.
EMAIL_SENDING_LEASE = timedelta(
    seconds=env_int("EMAIL_SENDING_LEASE_SECONDS", EMAIL_ATTEMPT_BOUND_SECONDS + 60)
)
EMAIL_STATUS_RETRY_SECONDS = float(os.environ.get("EMAIL_STATUS_RETRY_SECONDS", "30"))
# A worker's task sends its email and up to this many - 1 other due ones over
# one SMTP connection (accounts.services.emails, core.leased), each row still
# claimed under lock with its lease and recorded as soon as it is accepted.
EMAIL_BATCH_SIZE = env_int("EMAIL_BATCH_SIZE", 100)
CELERY_BEAT_SCHEDULE = {
    "email-sweep": {
        "task": "accounts.tasks.email_sweep",
        "schedule": float(env_int("EMAIL_SWEEP_INTERVAL_SECONDS", 60)),
    },
    "webhook-sweep": {
        "task": "webhooks.tasks.webhook_sweep",
        "schedule": float(env_int("WEBHOOKS_SWEEP_INTERVAL_SECONDS", 60)),
    },
}

# --- Webhooks (Standard Webhooks; webhooks/) ----------------------------------
# Private, loopback and link-local addresses are refused after DNS
# resolution unless this is set (tests, local receivers).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
# Endpoints must use https, except in development (DEBUG).
WEBHOOKS_REQUIRE_HTTPS = env_bool("WEBHOOKS_REQUIRE_HTTPS", not DEBUG)
# Connect and read timeout of one attempt, and how much of an answer is kept.
WEBHOOKS_TIMEOUT_SECONDS = env_float("WEBHOOKS_TIMEOUT_SECONDS", 5)
WEBHOOKS_EXCERPT_BYTES = env_int("WEBHOOKS_EXCERPT_BYTES", 500)
# Seconds before each retry, the Standard Webhooks schedule: 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 10 h (the first attempt is immediate): ~27 h.
WEBHOOKS_RETRY_SCHEDULE = [
    float(x) for x in env_list("WEBHOOKS_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
]
# Deliveries failed for good in a row before an endpoint is disabled.
WEBHOOKS_DISABLE_AFTER = env_int("WEBHOOKS_DISABLE_AFTER", 5)
# An attempt's lease: a delivery cut short (worker killed) waits this long,
# plus WEBHOOKS_SWEEP_AFTER, before the sweep sends it again.
WEBHOOKS_SENDING_LEASE = timedelta(
    seconds=env_int("WEBHOOKS_SENDING_LEASE_SECONDS", 3 * int(WEBHOOKS_TIMEOUT_SECONDS) + 30)
)
WEBHOOKS_SWEEP_AFTER = timedelta(seconds=env_int("WEBHOOKS_SWEEP_AFTER_SECONDS", 60))
# Delivered and failed deliveries (their payloads, the delivery log) are
# removed after this many days by a daily beat task; each endpoint's latest
# is kept, so its sequence numbers never go back. 0 keeps them all.
WEBHOOKS_RETENTION_DAYS = env_int("WEBHOOKS_RETENTION_DAYS", 30)
CELERY_BEAT_SCHEDULE["webhook-prune"] = {
    "task": "webhooks.tasks.webhook_prune",
    "schedule": timedelta(days=1),
}
# After a secret rotation the previous secret keeps signing this long.
WEBHOOKS_ROTATION_OVERLAP = timedelta(hours=env_int("WEBHOOKS_ROTATION_OVERLAP_HOURS", 24))
# Bounded waits (issue 17): the audit chain's advisory lock (held by the
# sealer, retention and erasure -- never by a writer of events) is waited
# on for at most this long before the waiter answers 503 "busy, retry".
# Kept well under DATABASE_STATEMENT_TIMEOUT_MS so the clear message wins
# over a cancelled statement.
AUDIT_LOCK_TIMEOUT_MS = env_int("AUDIT_LOCK_TIMEOUT_MS", 3000)
# The audit chain is sealed off the request path (audit/services/sealer.py):
# events are written unsealed, a worker links them after each commit, and
# beat runs the sealer every this many seconds as the backstop.
CELERY_BEAT_SCHEDULE["audit-seal"] = {
    "task": "audit.tasks.audit_seal",
    "schedule": env_float("AUDIT_SEAL_SECONDS", 2),
}
# False: events are written and never sealed -- the audited-writes
# benchmark's baseline (benchmarks/audit_writes.py). Never in production.
AUDIT_CHAIN_ENABLED = env_bool("AUDIT_CHAIN_ENABLED", True)
# Durable jobs (batch actions, invitation imports; accounts.services.jobs).
# A runner renews its lease with every chunk it commits; a job whose lease
# ran out (worker killed, task lost) is queued again by the sweep, which
# runs every JOB_SWEEP_INTERVAL_SECONDS. Worst-case recovery after a lost
# task is about JOB_LEASE + the sweep interval. A job claimed
# JOB_MAX_ATTEMPTS times without finishing a chunk is marked failed.
JOB_LEASE = timedelta(seconds=env_int("JOB_LEASE_SECONDS", 60))
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5)
JOB_RETRY_BASE_SECONDS = float(os.environ.get("JOB_RETRY_BASE_SECONDS", "2"))
JOB_RETRY_MAX_SECONDS = float(os.environ.get("JOB_RETRY_MAX_SECONDS", "60"))
JOB_TASK_MAX_RETRIES = env_int("JOB_TASK_MAX_RETRIES", 8)
# Self-deletions whose cooling-off ended are carried out, and soft-deleted
# users whose restore window (30 days) ended are removed for good, their
# audit trail scrubbed, every this many seconds (accounts.services.purge).
CELERY_BEAT_SCHEDULE["users-purge-expired"] = {
    "task": "accounts.tasks.users_purge_expired",
    "schedule": float(env_int("USERS_PURGE_INTERVAL_SECONDS", 3600)),
}
# How long a user's own request to delete their account waits before it is
# carried out; they can cancel it until then.
SELF_DELETION_COOLING_OFF = timedelta(days=env_int("SELF_DELETION_COOLING_OFF_DAYS", 7))
CELERY_BEAT_SCHEDULE["job-sweep"] = {
    "task": "accounts.tasks.job_sweep",
    "schedule": float(env_int("JOB_SWEEP_INTERVAL_SECONDS", 30)),
}
# Self-service password reset: requests per hour, and the least time an
# answer takes (the same for known and unknown addresses).
PASSWORD_FORGOT_LIMIT_PER_EMAIL = env_int("PASSWORD_FORGOT_LIMIT_PER_EMAIL", 5)
PASSWORD_FORGOT_LIMIT_PER_IP = env_int("PASSWORD_FORGOT_LIMIT_PER_IP", 30)
PASSWORD_FORGOT_MIN_SECONDS = float(os.environ.get("PASSWORD_FORGOT_MIN_SECONDS", "0.4"))
# Invitations imported at once from a pasted list or CSV.
INVITATION_IMPORT_MAX = env_int("INVITATION_IMPORT_MAX", 500)

# Audit retention (audit area): with AUDIT_RETENTION_DAYS set, beat prunes
# older events daily through audit.services.prune_before (checkpointed).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 0) or None
if AUDIT_RETENTION_DAYS:
    CELERY_BEAT_SCHEDULE["audit-prune-expired"] = {
        "task": "audit.tasks.audit_prune_expired",
        "schedule": timedelta(days=1),
    }

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
