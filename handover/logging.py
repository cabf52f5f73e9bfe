"""Log formatting: one event, one line."""

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
