"""Error reports without one-time tokens (settings.DEFAULT_EXCEPTION_REPORTER)."""

from __future__ import annotations

from django.views.debug import ExceptionReporter

from handover.logging import redact_tokens


class RedactingExceptionReporter(ExceptionReporter):
    """Error reports (the email to ADMINS, the debug page) with every token
    path redacted: the request line, the Referer and other headers, the
    query string and each frame's local variables all pass through one last
    rewrite of the finished report."""

    def get_traceback_html(self):
        return redact_tokens(super().get_traceback_html())

    def get_traceback_text(self):
        return redact_tokens(super().get_traceback_text())
