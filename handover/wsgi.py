import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings")
# Marks a web process: settings give its SQL statements a time budget
# (DATABASE_STATEMENT_TIMEOUT_MS); workers and commands do not import this.
os.environ.setdefault("HANDOVER_PROCESS", "web")
application = get_wsgi_application()

# Import every view (and build the API's schema) now, at worker boot, not in
# the first request each worker serves: that request -- a health check
# right after a deploy, a read behind waiting writes -- took seconds.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
