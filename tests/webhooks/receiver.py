"""A real HTTP receiver on 127.0.0.1 that records every request it gets,
and can answer 500 or stall (to be killed mid-delivery)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    requests: list = field(default_factory=list)
    status: int = 204
    fail_first: int = 0  # answer 500 to this many requests, then `status`
    stall: float = 0.0  # wait this long before answering
    lock: threading.Lock = field(default_factory=threading.Lock)
    stalling: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def got(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.got()]


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
                failing = state.fail_first > 0
                if failing:
                    state.fail_first -= 1
            if state.stall:
                state.stalling.set()
                time.sleep(state.stall)
            status = 500 if failing else state.status
            self.send_response(status)
            answer = b"receiver says no" if status >= 300 else b""
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    return state, server
