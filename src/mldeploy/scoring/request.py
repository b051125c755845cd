"""One HTTP request as the front holds it from its head to its answer, and its ids as the reference echoes them."""

import time
from random import getrandbits

from .. import __version__
from .bodies import BodyBuffer
from .dispatch import Job, Settle
from .outputs import Headers
from .wire import Answer

HEADER_LIMIT = 100
SERVER_VERSION = f"mldeploy/{__version__}"
VERSION_LINE = f"x-ms-server-version: {SERVER_VERSION}\r\n"
VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # a digit with the bits 10 on top


def new_request_id() -> str:
    """A random UUID (version 4, RFC 4122 variant) as text, like ``str(uuid.uuid4())``, without a system call:
    request ids must be unique, not secret."""
    digits = getrandbits(128).to_bytes(16, "big").hex()  # the version digit 4 and the variant bits replace 6 bits
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"


class Request(Job):
    """Method, path (percent-decoded), query string, headers (names lower-case), and what answering it needs:
    its ids, its body as it arrives, its answer when the front decides it (None while it goes to a worker).
    A scoring request is the dispatcher's job itself (``Job``): one object per request."""

    __slots__ = (
        "answer", "body", "client", "close", "header_map", "headers", "keep_alive", "legacy", "method", "path",
        "query", "raw", "received", "request_id",
    )  # fmt: skip

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        header_map: dict[str, str],
        keep_alive: bool,
        settle: Settle,
    ) -> None:
        Job.__init__(self, settle)
        self.received = time.perf_counter()
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.header_map = header_map
        self.keep_alive = keep_alive
        self.request_id: str | None = None  # None until the ids are read (a request routed to a page of ours)
        self.legacy = self.client = ""
        self.answer: Answer | None = None
        self.body: BodyBuffer | None = None  # while the body is held
        self.raw = b""  # a complete answer written as it is (a request that could not be parsed)
        self.close = False  # the connection ends after this answer

    @classmethod
    def unparsed(cls, raw: bytes) -> "Request":
        """The place in line of a request that could not be parsed: ``raw`` is written, then the connection ends."""
        request = cls("", "", "", [], {}, False, _unanswered)
        request.raw = raw
        request.close = True
        return request

    def read_ids(self) -> str | None:
        """x-request-id / x-ms-request-id / x-ms-client-request-id as the reference handles them; the 431 message
        when an id is too long (the ids too long are then not echoed)."""
        headers = self.header_map
        request_id = self.request_id = headers.get("x-request-id") or new_request_id()
        legacy = headers.get("x-ms-request-id", "")
        client = headers.get("x-ms-client-request-id", "")
        if legacy:
            client = client or legacy
        else:
            legacy = client or request_id
        self.legacy = legacy
        self.client = client
        if len(request_id) > HEADER_LIMIT:
            self.request_id = self.legacy = self.client = ""
            return f"x-request-id must not exceed {HEADER_LIMIT} characters"
        if len(legacy) > HEADER_LIMIT or len(client) > HEADER_LIMIT:
            self.legacy = self.client = ""
            return f"x-ms-request-id and x-ms-client-request-id must not exceed {HEADER_LIMIT} characters"
        return None

    def id_lines(self) -> str:
        """The answer's header lines for the ids (none before they are read)."""
        if self.request_id is None:
            return ""
        lines = VERSION_LINE
        if self.request_id:
            lines += f"x-request-id: {self.request_id}\r\n"
        if self.legacy:
            lines += f"x-ms-request-id: {self.legacy}\r\n"
        if self.client:
            lines += f"x-ms-client-request-id: {self.client}\r\n"
        return lines


def _unanswered(reply: object, error: Exception | None) -> None:
    """A request that is never scored has no reply to settle."""
