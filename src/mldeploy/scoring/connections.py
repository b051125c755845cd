"""Connection-level limits of the front: how many connections, how long a request head may take, how large
it may grow, and enough file descriptors for all of them.

uvicorn's httptools protocol keeps a connection that never sends a request open forever and buffers a
request head of any size. ``GuardedHttpProtocol`` adds what it lacks: a connection over
``max_connections`` is answered 503 and closed at once; a request head must be complete within
``read_timeout_s`` (408, or a plain close for a connection that sent nothing), then its body within
``read_timeout_s`` more (408), and the head within ``max_header_bytes`` (431). Each limit logs a warning
when it is hit, at most once per 10 s.
"""

import asyncio
import json
import logging
import resource
from http import HTTPStatus
from typing import NamedTuple

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .bodies import RateLimitedWarning

logger = logging.getLogger("mldeploy.server")

FD_RESERVE = 256  # descriptors kept for workers, logs, the listening socket and the event loop


class ConnectionLimits(NamedTuple):
    max_connections: int
    max_header_bytes: int
    read_timeout_s: float


def raw_answer(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, for refusals made before any request exists."""
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a connection limit and limits on the request head."""

    limits: ConnectionLimits  # set on the subclass made by ``guarded_protocol``
    warn_connections = RateLimitedWarning("Connection refused: %d connections open, the limit (--max-connections)")
    warn_slow_request = RateLimitedWarning("Connection closed: no complete request head or body within %g s")
    warn_large_head = RateLimitedWarning("Request refused with 431: a request head over %d bytes")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.read_timer: asyncio.TimerHandle | None = None
        self.reading = True  # a request (head or body) is being received
        self.in_head = True
        self.read_started = 0.0  # when the head, then the body, started to be received
        self.head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.warn_connections(len(self.connections))
            self.transport = transport
            transport.write(raw_answer(503, "The server has too many open connections. Retry later."))
            transport.close()
            return
        super().connection_made(transport)
        self.read_started = self.loop.time()
        self.read_timer = self.loop.call_later(self.limits.read_timeout_s, self._check_reading)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.read_timer is not None:
            self.read_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.in_head and self.head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            self.warn_large_head(self.limits.max_header_bytes)
            self._refuse(431, f"The request line and headers are over {self.limits.max_header_bytes} bytes.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.reading:  # the next request on a kept-alive connection: timed from now
            self.reading = self.in_head = True
            self.head_bytes = 0
            self.read_started = self.loop.time()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.read_started = self.loop.time()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.reading = False
        super().on_message_complete()

    def _check_reading(self) -> None:
        """One timer per connection, not one per request: when it fires, it checks the head or body being
        received (if any) and sets itself again for when that one's time runs out."""
        if self.transport.is_closing():
            return
        timeout = self.limits.read_timeout_s
        remaining = self.read_started + timeout - self.loop.time() if self.reading else timeout
        if remaining > 0:
            self.read_timer = self.loop.call_later(remaining, self._check_reading)
            return
        self.warn_slow_request(timeout)
        if not self.in_head:
            self._refuse(408, f"The request body did not arrive within {timeout:g} s. Send it faster or smaller.")
        elif self.head_bytes:
            self._refuse(408, f"The request head did not arrive within {timeout:g} s.")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self.transport.write(raw_answer(status, message))
        self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    return type("ScoringHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


def fit_file_limit(max_connections: int) -> int:
    """Raise the soft limit of open files so that ``max_connections`` sockets fit (up to the hard limit);
    the number of connections that fit, with a warning when that is fewer than asked."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + FD_RESERVE
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    fitting = max(soft - FD_RESERVE, 1)
    if fitting < max_connections:
        logger.warning(
            "Open files are limited to %d (hard limit %s): at most %d connections instead of %d. Raise the limit "
            "(ulimit -n, or the container's nofile ulimit) or lower --max-connections.",
            soft, hard, fitting, max_connections,
        )  # fmt: skip
        return fitting
    return max_connections
