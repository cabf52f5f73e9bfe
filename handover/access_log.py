"""gunicorn's logger without one-time tokens (`--logger-class
handover.access_log.RedactingLogger`, see the Procfile).

The access log records the request line, the path, the query string, the
Referer and any header a custom format names; the error log records the
URI of a request that failed. A token in any of them lets whoever reads
the log accept the invitation or reset the password, so each value is
redacted (handover.logging.redact_tokens) before it is written."""

from __future__ import annotations

from gunicorn.glogging import Logger

from handover.logging import redact_tokens


def _clean(value):
    return redact_tokens(value) if isinstance(value, str) else value


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: _clean(value) for key, value in atoms.items()}

    def log(self, lvl, msg, *args, **kwargs):
        super().log(lvl, _clean(msg), *map(_clean, args), **kwargs)

    def critical(self, msg, *args, **kwargs):
        super().critical(_clean(msg), *map(_clean, args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(_clean(msg), *map(_clean, args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(_clean(msg), *map(_clean, args), **kwargs)

    def info(self, msg, *args, **kwargs):
        super().info(_clean(msg), *map(_clean, args), **kwargs)

    def debug(self, msg, *args, **kwargs):
        super().debug(_clean(msg), *map(_clean, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(_clean(msg), *map(_clean, args), **kwargs)
