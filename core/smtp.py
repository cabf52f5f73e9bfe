"""Sending over SMTP with the timeouts RFC 5321 gives (section 4.5.3.2),
and telling "refused for good" and "possibly sent" apart from "try again".

Django's SMTP backend waits EMAIL_TIMEOUT on every reply alike. RFC 5321
asks a client to wait at least 5 minutes for the greeting, MAIL and RCPT,
2 for the 354 after DATA, 3 for each block of the message, and 10 for the
reply after the final "." -- the server may be scanning the message then,
and a client that gives up early while the server goes on to accept it
sends the message again (issue 28, F8: 5 copies of each). Here:

- connection, greeting, EHLO, MAIL, RCPT: EMAIL_TIMEOUT (default 300 s);
- DATA initiation: at most 120 s; the message itself: 180 s;
- the final reply: EMAIL_DATA_END_TIMEOUT (default 600 s).

A timeout or a dropped connection while waiting for the final reply raises
`PossiblySent`: the server may have taken the message. The outbox retries
such a message at most once (same Message-ID, so a receiver can drop the
copy). A 5xx reply is permanent (`permanent_error` gives the server's
words): the outbox fails it at once instead of retrying.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as DjangoSmtpBackend

DATA_INITIATION_SECONDS = 120
DATA_BLOCK_SECONDS = 180


class PossiblySent(smtplib.SMTPException):
    """The whole message went out but no final reply came back."""


def permanent_error(exc: BaseException) -> str | None:
    """The server's words when `exc` is a permanent (5xx) refusal, else None."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        if replies and all(500 <= code < 600 for code, _ in replies):
            return "; ".join(f"{code} {_text(message)}" for code, message in replies)
        return None
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return None


def _text(message) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


class _RfcTimeouts:
    """Per-step socket timeouts for smtplib.SMTP (and SMTP_SSL)."""

    def _wait_at_most(self, seconds: float) -> None:
        if self.sock is not None:
            self.sock.settimeout(seconds)

    def mail(self, *args, **kwargs):
        self._wait_at_most(settings.EMAIL_TIMEOUT)
        return super().mail(*args, **kwargs)

    def rcpt(self, *args, **kwargs):
        self._wait_at_most(settings.EMAIL_TIMEOUT)
        return super().rcpt(*args, **kwargs)

    def data(self, msg):
        """smtplib's `data`, with RFC 5321's timeouts for each step."""
        self._wait_at_most(min(settings.EMAIL_TIMEOUT, DATA_INITIATION_SECONDS))
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = smtplib._fix_eols(msg).encode("ascii")
        payload = smtplib._quote_periods(msg)
        if payload[-2:] != smtplib.bCRLF:
            payload += smtplib.bCRLF
        payload += b"." + smtplib.bCRLF
        self._wait_at_most(min(settings.EMAIL_TIMEOUT, DATA_BLOCK_SECONDS))
        self.send(payload)
        self._wait_at_most(settings.EMAIL_DATA_END_TIMEOUT)
        try:
            return self.getreply()
        except smtplib.SMTPServerDisconnected as exc:  # smtplib's word for a timeout too
            raise PossiblySent(f"no reply after the message was sent ({exc})") from exc


class RfcSMTP(_RfcTimeouts, smtplib.SMTP):
    pass


class RfcSMTPSSL(_RfcTimeouts, smtplib.SMTP_SSL):
    pass


class EmailBackend(DjangoSmtpBackend):
    """Django's SMTP backend on `RfcSMTP` (EMAIL_BACKEND in production)."""

    @property
    def connection_class(self):
        return RfcSMTPSSL if self.use_ssl else RfcSMTP
