"""One HTTP request as the front holds it while it is answered, and its ids as the reference echoes them."""

import time
from random import getrandbits

from .. import __version__
from .outputs import Headers

HEADER_LIMIT = 100
SERVER_VERSION = f"mldeploy/{__version__}"
UUID4_BITS = (0x4 << 76) | (0x2 << 62)  # the version digit 4, the variant bits 10
UUID4_MASK = ((1 << 128) - 1) ^ (0xF << 76) ^ (0x3 << 62)


def new_request_id() -> str:
    """A random UUID (version 4, RFC 4122 variant) as text, like ``str(uuid.uuid4())``, without a system call:
    request ids must be unique, not secret."""
    digits = "%032x" % (getrandbits(128) & UUID4_MASK | UUID4_BITS)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Request:
    """Method, path (percent-decoded), query string, headers (names lower-case) and what answering needs."""

    __slots__ = ("header_map", "headers", "ids", "keep_alive", "method", "path", "query", "started")

    def __init__(
        self, method: str, path: str, query: str, headers: Headers, header_map: dict[str, str], keep_alive: bool
    ) -> None:
        self.started = time.perf_counter()
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.header_map = header_map
        self.keep_alive = keep_alive
        self.ids: RequestIds | None = None


class RequestIds:
    """x-request-id / x-ms-request-id / x-ms-client-request-id handling of the reference."""

    __slots__ = ("client", "legacy", "request")

    def __init__(self, headers: dict[str, str]) -> None:
        self.request = headers.get("x-request-id") or new_request_id()
        legacy = headers.get("x-ms-request-id", "")
        client = headers.get("x-ms-client-request-id", "")
        if legacy:
            client = client or legacy
        else:
            legacy = client or self.request
        self.legacy = legacy
        self.client = client

    def problem(self) -> str | None:
        """The 431 message when an id is too long; the ids that are too long are then not echoed."""
        if len(self.request) > HEADER_LIMIT:
            self.request = self.legacy = self.client = ""
            return f"x-request-id must not exceed {HEADER_LIMIT} characters"
        if len(self.legacy) > HEADER_LIMIT or len(self.client) > HEADER_LIMIT:
            self.legacy = self.client = ""
            return f"x-ms-request-id and x-ms-client-request-id must not exceed {HEADER_LIMIT} characters"
        return None

    def headers(self) -> Headers:
        out = [("x-ms-server-version", SERVER_VERSION)]
        if self.request:
            out.append(("x-request-id", self.request))
        if self.legacy:
            out.append(("x-ms-request-id", self.legacy))
        if self.client:
            out.append(("x-ms-client-request-id", self.client))
        return out
