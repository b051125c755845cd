"""Request bodies: read only once the request is admitted, within a size limit and a budget shared by
every request the front holds.

The front reads a body after the key and the route are checked, so an unauthenticated client never makes
it buffer anything. Every body byte the front holds (being read, queued, or with a worker) is counted
against ``max_buffered_bytes``; a request that would pass it is answered 503 before its body is read.
"""

import logging
import time

from .outputs import error_reply, header_lines
from .wire import RETRY_LATER, Answer

logger = logging.getLogger("mldeploy.server")

WARNING_INTERVAL_S = 10.0
MIB = 1024 * 1024
PREALLOCATED_FROM = 64 * 1024  # bodies of known size above this go into one buffer

TOO_LARGE = "The request body is larger than the limit of {limit} bytes. Send less data per request."
OVER_BUDGET = (
    "The server is holding {held:.0f} MiB of request bodies, its limit is {limit:.0f} MiB: this one does not fit "
    "now. Retry later, send smaller bodies, or raise the limit (--max-buffered-mb)."
)


class BodyRefused(Exception):
    """The body cannot be taken; ``answer`` is what the client gets (the connection is then closed)."""

    def __init__(self, status: int, message: str, *extra: str) -> None:
        super().__init__(message)
        reply = error_reply(status, message)
        self.answer: Answer = (reply[0], "".join([header_lines(reply[1]), "Connection: close\r\n", *extra]), reply[2])


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
            raise BodyRefused(503, OVER_BUDGET.format(held=self.held / MIB, limit=self.limit / MIB), RETRY_LATER)
        self.held += size

    def release(self, size: int) -> None:
        self.held -= size


class BodyBuffer:
    """One admitted request's body as it arrives, counted against the size limit and the shared budget.

    ``add`` raises BodyRefused when the body grows past either; ``release()`` gives its bytes back. A large
    body of known size is read into one buffer, so it is held once and never joined from pieces."""

    __slots__ = ("budget", "buffer", "chunks", "max_bytes", "reserved", "size")

    def __init__(self, declared: int | None, max_bytes: int, budget: BodyBudget) -> None:
        self.max_bytes = max_bytes
        self.budget = budget
        self.reserved = 0
        self.size = 0
        self.chunks: list[bytes] = []
        self.buffer: bytearray | None = None
        if declared:
            self._take(declared)
            if declared > PREALLOCATED_FROM:
                self.buffer = bytearray(declared)

    def _take(self, size: int) -> None:
        if size > self.max_bytes:
            raise BodyRefused(413, TOO_LARGE.format(limit=self.max_bytes))
        if size > self.reserved:
            self.budget.reserve(size - self.reserved)
            self.reserved = size

    def add(self, chunk: bytes) -> None:
        start = self.size
        self.size += len(chunk)
        if self.size > self.reserved:  # a chunked body: counted as it grows
            self._take(self.size)
        if self.buffer is not None:
            self.buffer[start : self.size] = chunk
        else:
            self.chunks.append(chunk)

    def data(self) -> bytes | bytearray:
        """The whole body (a single piece is handed over as it is)."""
        if self.buffer is not None:
            return self.buffer
        chunks = self.chunks
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    def release(self) -> None:
        self.chunks = []
        self.buffer = None
        if self.reserved:
            self.budget.release(self.reserved)
            self.reserved = 0
