"""Sending one webhook request, safely.

- The host is resolved once; every address it resolves to must be public
  (not private, loopback, link-local, multicast, reserved or unspecified,
  IPv4-mapped IPv6 included), unless WEBHOOKS_ALLOW_PRIVATE. The request
  then goes to the address that was checked (the connection is pinned),
  so a name that resolves differently a moment later (DNS rebinding)
  cannot slip through.
- `https` only unless WEBHOOKS_REQUIRE_HTTPS is off (off when DEBUG).
- Redirects are not followed (a redirect would be a new, unchecked URL).
- Connect and read time out after WEBHOOKS_TIMEOUT_SECONDS; only the first
  WEBHOOKS_EXCERPT_BYTES of the answer are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(Exception):
    """The URL may not be called (scheme, or an address it resolves to)."""


class Unresolvable(UnsafeURL):
    """The host name does not resolve (now)."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    duration_ms: int


def _refused(ip: ipaddress._BaseAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL an endpoint may have, before any DNS:
    http(s), a host, no credentials in it; https where required; a literal
    address that is refused is refused here already."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL("The URL must start with https://.")
    if scheme != "https" and settings.WEBHOOKS_REQUIRE_HTTPS:
        raise UnsafeURL("The URL must use https.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL may not carry a user name or password.")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("The URL's port is not valid.") from exc
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and _refused(literal) and not settings.WEBHOOKS_ALLOW_PRIVATE:
        raise UnsafeURL(f"The address {host} is private, loopback or link-local.")
    return scheme, host, port


def resolve(host: str, port: int) -> str:
    """The address to connect to: every address the name resolves to is
    checked, and the first is used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"The host {host} could not be resolved.") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Unresolvable(f"The host {host} could not be resolved.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for address in addresses:
            if _refused(ipaddress.ip_address(address.split("%", 1)[0])):
                raise UnsafeURL(
                    f"The host {host} resolves to {address}, a private, loopback or "
                    "link-local address."
                )
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` under the rules above. Raises `UnsafeURL` for a
    refused URL and `OSError` / `http.client.HTTPException` when the
    receiver cannot be reached or answers nonsense."""
    scheme, host, port = check_url(url)
    address = resolve(host, port)
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS
    connection_class = _PinnedTLS if scheme == "https" else _Pinned
    conn = connection_class(host, port, address, timeout)
    started = time.monotonic()
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(settings.WEBHOOKS_EXCERPT_BYTES)
        status = response.status
    finally:
        conn.close()
    return Answer(
        status=status,
        excerpt=excerpt.decode("utf-8", "replace"),
        duration_ms=int((time.monotonic() - started) * 1000),
    )
