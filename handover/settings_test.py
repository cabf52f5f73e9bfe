"""Settings for the test suite: the real settings with a fast hasher,
in-memory email and eager tasks. Tests that exercise the real worker, SMTP
server or hasher opt back in explicitly."""

from handover.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT = None
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SITE_URL = "http://testserver"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
AUDIT_STRICT_EVENT_TYPES = True  # an event type without a sentence fails the test that emits it
# The test suite records its own made-up event types under "tests.".
AUDIT_EXTRA_EVENT_PREFIXES = ("tests.",)
# A second alias on the same test database, as a replica would be
# (tests/test_replica_router.py). Off unless a test turns it on, so no
# other test's page reads through a second connection.
if "postgresql" in DATABASES["default"]["ENGINE"]:  # noqa: F405
    # Transactional tests empty the tables with DELETE, not TRUNCATE
    # (tests/db_backend/base.py: 0.5-1.9 s less per transactional test).
    DATABASES["default"]["ENGINE"] = "tests.db_backend"  # noqa: F405
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
DATABASE_REPLICA_READS = False
