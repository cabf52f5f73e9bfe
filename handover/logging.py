"""Log formatting: one event, one line, and no one-time token.

Standard library only: gunicorn's logger class (handover.access_log) imports
it before Django is set up."""

from __future__ import annotations

import logging
import re

# Control characters (C0 except tab, DEL, C1) and the Unicode line and
# paragraph separators: each could end a log line or rewrite a terminal.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def escape_control(text: str) -> str:
    return _UNSAFE.sub(
        lambda m: (
            _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}")
            if ord(m.group()) < 0x100
            else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


class SingleLineFormatter(logging.Formatter):
    """Escapes control characters in the message, so user input (an email
    typed at sign-in, a request path) cannot forge or break a log line
    (ASVS 7.3.1). Tracebacks keep their lines."""

    def formatMessage(self, record):
        record.message = escape_control(record.message)
        return super().formatMessage(record)


# --- one-time tokens never reach a log -------------------------------------------

# The routes whose path carries a one-time token (accounts/views/public.py):
# whoever reads the token in a log can use it. `continue` is the placeholder
# the pages redirect to once the token is in the session; it is no secret.
TOKEN_ROUTES = ("invite", "password/reset", "magic", "verify", "sign-in/not-me")
_SLASH = r"(?:/|%2[fF])"  # a path inside a query string is percent-encoded
TOKEN_PATH = re.compile(
    rf"(?P<route>{_SLASH}(?:{'|'.join(r.replace('/', _SLASH) for r in TOKEN_ROUTES)}){_SLASH})"
    r"(?!continue\b)(?P<token>[^/?#&%\s\"'<>]+)"
)
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """`text` with every token path's token replaced by [redacted]; it also
    finds them inside query strings, Referer values and whole URLs."""
    if not isinstance(text, str) or "/" not in text:
        return text
    return TOKEN_PATH.sub(lambda m: m.group("route") + REDACTED, text)


class RedactTokensFilter(logging.Filter):
    """On a logger (django.request, django.server, django.security.csrf):
    rewrites the record's message with the tokens redacted before any
    handler (console, mail_admins) sees it."""

    def filter(self, record):
        message = record.getMessage()
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingFormatter(SingleLineFormatter):
    """SingleLineFormatter, and no token in the line or the traceback under
    it, whichever logger the record came from."""

    def format(self, record):
        return redact_tokens(super().format(record))


# Django's request loggers, whose messages carry request paths.
_REDACTED_LOGGERS = ("django.request", "django.server", "django.security.csrf")


def logging_config(*, level: str) -> dict:
    """The LOGGING setting. One-time tokens in request paths (/invite/<token>/,
    ...) never reach a log: Django's request loggers rewrite the message
    before any handler (console, mail_admins) sees it, and the console
    formatter redacts whatever else gets through and escapes control
    characters (one event, one line). Error reports are redacted as a whole
    (DEFAULT_EXCEPTION_REPORTER)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_tokens": {"()": "handover.logging.RedactTokensFilter"}},
        "formatters": {
            "plain": {
                "()": "handover.logging.RedactingFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},
            # Django's own handlers here (a plain console in DEBUG, mail_admins,
            # which has no ADMINS to write to) would print unredacted lines, and
            # in DEBUG every line twice: its records go to the root console.
            "django": {"handlers": [], "level": "INFO"},
            **{name: {"filters": ["redact_tokens"]} for name in _REDACTED_LOGGERS},
        },
    }
