"""Request bodies: read only once the request is admitted, within a size limit and a budget shared by
every request the front holds.

The front reads a body after the key and the route are checked, so an unauthenticated client never makes
it buffer anything. Every body byte the front holds (being read, queued, or with a worker) is counted
against ``max_buffered_bytes``, and held once: a request that would pass it is answered 503 before its body
is read (a chunked one as soon as its next piece does not fit). A body's memory goes back to the system
when its request ends (``heap``).
"""

import logging
import time

from . import heap
from .outputs import error_reply, header_lines
from .wire import RETRY_LATER, Answer

logger = logging.getLogger("mldeploy.server")

WARNING_INTERVAL_S = 10.0
MIB = 1024 * 1024
PREALLOCATED_FROM = 64 * 1024  # bodies of known size above this go into one buffer
TRIM_AFTER = 16 * MIB  # bodies let go of before the heap is trimmed (when none is held any more)

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
    """The bytes of request bodies the front holds at once, at most ``limit``. Once none is held, the heap
    pages that smaller bodies left free are given back (every ``TRIM_AFTER`` bytes let go of, at most)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.trim_in = TRIM_AFTER  # bytes still to be let go of before the heap is next trimmed
        self.warn = RateLimitedWarning("Request refused with 503: bodies held %.0f MiB of the %.0f MiB limit")

    def reserve(self, size: int) -> None:
        if self.held + size > self.limit:
            self.warn(self.held / MIB, self.limit / MIB)
            raise BodyRefused(503, OVER_BUDGET.format(held=self.held / MIB, limit=self.limit / MIB), RETRY_LATER)
        self.held += size

    def release(self, size: int) -> None:
        self.held -= size
        self.trim_in -= size
        if self.trim_in <= 0 and not self.held:
            self.trim_in = TRIM_AFTER
            heap.trim()


class BodyBuffer:
    """One admitted request's body as it arrives, counted against the size limit and the shared budget.

    ``add`` raises BodyRefused when the body grows past either; ``release()`` gives its bytes back. A body is
    held once and handed to its worker as it is, never joined from pieces: a single piece as it came (most
    bodies), a large body of known size in one buffer of that size, any other (chunked, or in several pieces)
    in one buffer that grows as it arrives."""

    __slots__ = ("budget", "buffer", "first", "max_bytes", "reserved", "size")

    def __init__(self, declared: int | None, max_bytes: int, budget: BodyBudget) -> None:
        self.max_bytes = max_bytes
        self.budget = budget
        self.reserved = 0
        self.size = 0
        self.first = b""
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
        buffer = self.buffer
        if buffer is not None:
            buffer[start : self.size] = chunk  # written in place, or appended to a growing buffer
        elif not start:
            self.first = chunk
        else:
            buffer = self.buffer = bytearray(self.first)
            buffer += chunk
            self.first = b""

    def data(self) -> bytes | bytearray:
        """The whole body."""
        return self.first if self.buffer is None else self.buffer

    def release(self) -> None:
        self.first = b""
        self.buffer = None
        if self.reserved:
            self.budget.release(self.reserved)
            self.reserved = 0
