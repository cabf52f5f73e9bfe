"""Faults for tests: a small TCP proxy to put in front of PostgreSQL or
Redis and `kill()` (every connection drops, new ones are refused),
`revive()` or `pause()` (connections stay open but nothing flows: a
partition); and another session holding the audit chain's lock or a
user's row.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

import psycopg
from django.db import connection

from audit import services as audit


def _other_session() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def audit_chain_hold() -> psycopg.Connection:
    """Another session takes the audit chain's advisory lock (as a stuck
    sealer or prune would) and keeps it until the caller rolls back or
    closes it."""
    other = _other_session()
    other.execute("SELECT pg_advisory_xact_lock(%s)", [audit._CHAIN_LOCK_ID])
    return other


def row_lock_hold(user) -> psycopg.Connection:
    """Another session locks a user's row (as a stuck writer would) and
    keeps it until the caller rolls back or closes it."""
    other = _other_session()
    other.execute("SELECT 1 FROM accounts_user WHERE id = %s FOR UPDATE", [user.pk])
    return other


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._listener: socket.socket | None = None
        self._alive = False

    # --- control -----------------------------------------------------------

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._alive = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def kill(self) -> None:
        """Drop every connection and refuse new ones."""
        self._alive = False
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def revive(self) -> None:
        self._flowing.set()
        self.start()

    def pause(self) -> None:
        """Keep connections open but let nothing through."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def stop(self) -> None:
        self._flowing.set()
        self.kill()

    # --- plumbing ----------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while self._alive:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.2)
                if not ready:
                    continue
                self._flowing.wait()
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
