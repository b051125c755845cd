"""HTTP/1.1 answers as bytes: the status line, a Date header (formatted once a second), the headers given,
Content-Length, and Connection: close when the connection ends after this answer.

An answer's headers are held as the lines of its head already formatted (a worker sends them so; the front's
own answers are mostly constants): formatted once, never per request."""

import json
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

LARGE_PAYLOAD = 64 * 1024  # above this, the payload is written on its own rather than copied behind the head
JSON_LINES = "content-type: application/json\r\n"
RETRY_LATER = "Retry-After: 1\r\n"

Answer = tuple[int, str, Any]  # status, header lines, payload: bytes, or a StreamedReply (of which only len() is read)


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n"


STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _DateHeader:
    """``date: <now>\\r\\n``, formatted again only when the second changes."""

    def __init__(self) -> None:
        self._second = -1
        self._line = ""

    def __call__(self) -> str:
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            self._line = f"date: {formatdate(now, usegmt=True)}\r\n"
        return self._line


date_header = _DateHeader()


def answer_parts(
    status: int,
    headers: str,
    payload: Any,
    keep_alive: bool,
    head: bool,
    length: int | None = None,
    lines: str = "",
) -> list[bytes]:
    """What to write for one answer: one buffer for a small one, head and payload apart for a large one.

    ``head``: only the head is written (a HEAD request, or an answer whose body follows apart); ``length``:
    the body's length when it is not ``payload``'s; ``headers`` and then ``lines``: header lines."""
    top = "".join(
        [
            STATUS_LINES.get(status) or _status_line(status),
            date_header(),
            headers,
            lines,
            f"content-length: {len(payload) if length is None else length}\r\n",
            "\r\n" if keep_alive else "connection: close\r\n\r\n",
        ]
    ).encode("latin-1")
    if head or not payload:
        return [top]
    if len(payload) > LARGE_PAYLOAD:
        return [top, payload]
    return [top + payload]


def raw_answer(status: int, message: str) -> bytes:
    """A complete answer that closes the connection, for refusals made before any request exists."""
    body = json.dumps({"message": message}).encode()
    return b"".join(answer_parts(status, JSON_LINES, body, False, False))
