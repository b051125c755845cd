"""Request bodies: read only once the request is admitted, within a size limit and a budget shared by
every request the front holds.

The front reads a body after the key and the route are checked, so an unauthenticated client never makes
it buffer anything. Every body byte the front holds (being read, queued, or with a worker) is counted
against ``max_buffered_bytes``; a request that would pass it is answered 503 before its body is read.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .outputs import Headers, error_reply

logger = logging.getLogger("mldeploy.server")

Answer = tuple[int, Headers, bytes]
Receive = Callable[[], Awaitable[dict[str, Any]]]
WARNING_INTERVAL_S = 10.0
MIB = 1024 * 1024

TOO_LARGE = "The request body is larger than the limit of {limit} bytes. Send less data per request."
OVER_BUDGET = (
    "The server is holding {held:.0f} MiB of request bodies, its limit is {limit:.0f} MiB: this one does not fit "
    "now. Retry later, send smaller bodies, or raise the limit (--max-buffered-mb)."
)


class BodyRefused(Exception):
    """The body cannot be taken; ``answer`` is what the client gets (the connection is then closed)."""

    def __init__(self, status: int, message: str, *extra: tuple[str, str]) -> None:
        super().__init__(message)
        reply = error_reply(status, message)
        self.answer: Answer = (reply[0], [*reply[1], ("Connection", "close"), *extra], reply[2])


class RateLimitedWarning:
    """A warning logged at most once per interval, with how many times it happened in between."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.count = 0
        self.last = -WARNING_INTERVAL_S

    def __call__(self, *args: object) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= WARNING_INTERVAL_S:
            logger.warning(self.message + " (%d time(s) since the last warning)", *args, self.count)
            self.last = now
            self.count = 0


class BodyBudget:
    """The bytes of request bodies the front holds at once, at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.warn = RateLimitedWarning("Request refused with 503: bodies held %.0f MiB of the %.0f MiB limit")

    def reserve(self, size: int) -> None:
        if self.held + size > self.limit:
            self.warn(self.held / MIB, self.limit / MIB)
            raise BodyRefused(
                503, OVER_BUDGET.format(held=self.held / MIB, limit=self.limit / MIB), ("Retry-After", "1")
            )
        self.held += size

    def release(self, size: int) -> None:
        self.held -= size


class BodyReader:
    """Reads one request's body on demand; ``release()`` gives its bytes back to the budget."""

    __slots__ = ("budget", "declared", "max_bytes", "receive", "reserved")

    def __init__(self, receive: Receive, declared: int | None, max_bytes: int, budget: BodyBudget) -> None:
        self.receive = receive
        self.declared = declared
        self.max_bytes = max_bytes
        self.budget = budget
        self.reserved = 0

    def _take(self, size: int) -> None:
        if size > self.max_bytes:
            raise BodyRefused(413, TOO_LARGE.format(limit=self.max_bytes))
        if size > self.reserved:
            self.budget.reserve(size - self.reserved)
            self.reserved = size

    async def __call__(self) -> bytes | bytearray:
        """The whole body; raises BodyRefused when it is too large, over the budget or cut off (a body too
        slow to arrive is answered 408 by the connection, see ``connections``)."""
        if self.declared:
            self._take(self.declared)
        message = await self.receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            self._check_complete(message, len(body))
            return body
        if self.declared:
            return await self._read_declared(message)
        chunks = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await self.receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            self._take(size)
            chunks.append(chunk)
        self._check_complete(message, size)
        return b"".join(chunks)

    async def _read_declared(self, message: dict[str, Any]) -> bytearray:
        """A body of known size, read into one buffer: held once, never joined from pieces."""
        body = bytearray(self.declared or 0)
        size = 0
        while True:
            chunk = message.get("body", b"")
            body[size : size + len(chunk)] = chunk
            size += len(chunk)
            if not message.get("more_body", False):
                break
            message = await self.receive()
        self._check_complete(message, size)
        if size != len(body):
            raise BodyRefused(400, f"The body has {size} bytes where Content-Length says {len(body)}.")
        return body

    def _check_complete(self, message: dict[str, Any], size: int) -> None:
        if message["type"] == "http.disconnect":
            raise BodyRefused(400, "The client closed the connection before the whole body arrived.")
        self._take(size)

    def release(self) -> None:
        if self.reserved:
            self.budget.release(self.reserved)
            self.reserved = 0
