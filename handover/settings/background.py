"""Work done away from the request: Redis and the cache, Celery and beat,
email (SMTP and the outbox), webhooks, the audit chain's sealer and
retention, durable jobs, and the purge."""

import os
from datetime import timedelta

from handover.settings.env import DEBUG, env_bool, env_float, env_int, env_list

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


# Celery: Redis when REDIS_URL is set, eager (in-process) otherwise.
CELERY_BROKER_URL = REDIS_URL or "memory://"
# kombu's Redis transport, one client per channel (core/broker.py); the
# scheme picks the transport when none is named (memory:// in tests).
CELERY_BROKER_TRANSPORT = "core.broker:Transport" if REDIS_URL else None
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
# Celery's own defaults, stated: every publish looks these up, and one
# missing from Django's settings is tried under four names, each a raised
# AttributeError (about a fifth of a publish's CPU, measured; issue 29).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_TASK_REPR_MAXLEVELS = 3
CELERY_BROKER_POOL_ACQUIRE_TIMEOUT = None
# After a failed publish, publishing is skipped for this many seconds (the
# rows it would have queued wait for their sweep; core/tasks.py): a silent
# broker costs one request its timeouts, not every request.
BROKER_RETRY_AFTER_SECONDS = env_float("BROKER_RETRY_AFTER_SECONDS", 5)


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
# A nudged sealer starts this long after the commit that nudged it, so the
# events committed meanwhile are sealed in the same run: a run costs about
# 1.6 ms of worker CPU and 1 ms of the database's whatever it seals, so
# sealing 4 events a run cost 0.57 ms an event and 16 cost 0.21 (issue 29,
# benchmarks/audit_writes.py). The events are in the log at once; only
# their seal (and the webhooks that wait for it) comes this much later.
# 200, not 50 (stop 31): with 8 writers, ~250 mutations a second, the
# sealer's CPU and its database's fell from 0.44-0.64 to 0.23-0.26 ms a
# mutation (~12 events a run became ~50), for webhooks sent ~0.15 s later.
AUDIT_SEAL_DELAY_MS = env_int("AUDIT_SEAL_DELAY_MS", 200)
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
