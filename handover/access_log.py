"""gunicorn's logger without one-time tokens (`--logger-class
handover.access_log.RedactingLogger`, see the Procfile).

The access log records the request line, the path, the query string, the
Referer and any header a custom format names; the error log records the
URI of a request that failed. A token in any of them lets whoever reads
the log accept the invitation or reset the password, so each value is
redacted (handover.logging.redact_tokens) before it is written."""

from __future__ import annotations

from gunicorn.glogging import Logger

from handover.logging import RedactTokensFilter, redact_tokens

# One instance, so a second logger (a config reload) does not add it twice.
_REDACT = RedactTokensFilter()


def _clean(value):
    return redact_tokens(value) if isinstance(value, str) else value


class RedactingLogger(Logger):
    def __init__(self, cfg):
        super().__init__(cfg)
        # error(), warning(), log(), exception(), ... all write through the
        # error log: its filter redacts each record, whichever method wrote it.
        self.error_log.addFilter(_REDACT)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: _clean(value) for key, value in atoms.items()}
