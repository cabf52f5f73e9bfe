"""Sessions in the database (SESSION_ENGINE), failing cleanly when the
database does not answer.

Django's `SessionBase._get_session` loads the session inside an `except
AttributeError` (no `_session_cache` yet): when the load raises -- the
database restarting -- the traceback leads with "'SessionStore' object has
no attribute '_session_cache'", which hides the real cause. Here the load
happens outside that handler, so the database's own error is what is
raised, and it is answered 503 "retry" (handover.views.server_error).

Saving a changed session while the database is read-only keeps the stored
one as it was (what changes during a read is bookkeeping), instead of
Django's "session deleted before the request completed" 400; a database
that cannot be reached answers 503 there too."""

from __future__ import annotations

import logging

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore

from core.services import as_busy

logger = logging.getLogger(__name__)


class SessionStore(DatabaseSessionStore):
    def _get_session(self, no_load=False):
        self.accessed = True
        if not hasattr(self, "_session_cache"):
            if self.session_key is None or no_load:
                self._session_cache = {}
            else:
                self._session_cache = self.load()
        return self._session_cache

    # The base class binds its own `_get_session` to the property.
    _session = property(_get_session)

    def save(self, must_create=False):
        try:
            super().save(must_create=must_create)
        except UpdateError as exc:
            busy = as_busy(exc.__context__) if exc.__context__ is not None else None
            if busy is None:
                raise
            if busy.code == "read_only":
                logger.warning("session not saved: the database is read-only")
                return
            raise busy from exc
