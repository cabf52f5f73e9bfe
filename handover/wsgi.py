import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings")
# Marks a web process: settings give its SQL statements a time budget
# (DATABASE_STATEMENT_TIMEOUT_MS); workers and commands do not import this.
os.environ.setdefault("HANDOVER_PROCESS", "web")
application = get_wsgi_application()

from handover.boot import ready_to_serve  # noqa: E402

ready_to_serve()
