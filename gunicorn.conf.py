"""gunicorn's settings (read from the working directory by every `gunicorn`
started here: the Procfile's web line and the test nodes alike).

Threaded workers (issue 28, F3): with sync workers a request waiting on a
lock held a whole worker for the wait, so three writers waiting on the
audit chain left nothing for reads, sign-ins or /healthz. A gthread worker
gives each request a thread: a waiting write holds one of WEB_THREADS
threads (for at most AUDIT_LOCK_TIMEOUT_MS or the statement timeout),
and reads, sign-ins and /healthz are served by the others. Each thread has
its own database connection, so a node opens up to workers x threads
connections (3 x 8 = 24 by default): size PostgreSQL's max_connections
for every node. /healthz itself never waits longer than
HEALTH_CHECK_BUDGET_SECONDS on the database or Redis (handover/health.py)."""

import os

worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# A request is bounded well below this by the statement timeout, the
# client-side answer timeout and the lock timeouts; this is the last resort.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
