"""Frames exchanged between the HTTP front and its worker processes over a Unix socket pair.

A frame is a 4-byte big-endian length followed by a ``marshal``-encoded tuple. Both ends are our own
code, so marshal (fast, stdlib, handles bytes/str/tuples/lists/dicts) is safe here.

Front -> worker, per request: a frame ``(method, path, query_string, headers, body_size)`` with headers a
list of ``(name, value)`` (only those run() can read: ``info["headers"]``), then the body's ``body_size``
bytes as they are (a large body is not copied into the frame).
Worker -> front, once after start: ``("ready", info)`` or ``("init_failed", report)``. ``info["protocol"]`` is
``VERSION``: the front serves only with workers of its own version (a worker started after mldeploy was upgraded
or changed on disk, while the front kept running, may frame replies differently). ``info["headers"]`` says
which request headers its run() can read: ``HEADERS_ALL``, ``HEADERS_CONTENT_TYPE`` (a schema-decorated run()
is given the body's keys, checked against the Content-Type) or ``HEADERS_NONE``.
Worker -> front, per request: a frame ``(status, header_lines, exec_ms, body_size)`` (the headers formatted as
the lines of the answer's head), then the body's bytes as they are (a large answer is not copied into a
frame; the front streams it to the client as it arrives).
"""

import marshal
import struct
from typing import Any

from .outputs import Headers, header_lines

HEADER = struct.Struct("!I")
HEADER_SIZE = HEADER.size
SEPARATE_BODY = 1 << 16  # a body this large is written after its frame, not copied behind it

VERSION = 1  # of these frames' contents; the ready frame's shape (a length, then marshal's ("ready", info)) stays
MARSHAL_VERSION = 2  # no references between objects: encoded and decoded faster for these small messages
HEADERS_ALL, HEADERS_CONTENT_TYPE, HEADERS_NONE = "all", "content-type", "none"
LINES_KEPT = 64  # header lists whose lines are remembered (a JSON reply's are one of two)
READY = "ready"
SPARE_START = "start"  # front -> spare worker: ("start", environment) to become a worker of that environment
INIT_FAILED = "init_failed"


def encode(message: Any) -> bytes:
    payload = marshal.dumps(message, MARSHAL_VERSION)
    return HEADER.pack(len(payload)) + payload


decode = marshal.loads  # a frame's payload -> its message


def request_head(method: str, path: str, query: str, headers: list[tuple[str, str]], body_size: int) -> bytes:
    """The frame that precedes a request's body."""
    return encode((method, path, query, headers, body_size))


_lines: dict[tuple[tuple[str, str], ...], str] = {}


def _lines_of(headers: Headers) -> str:
    key = tuple(headers)
    lines = _lines.get(key)
    if lines is None:
        lines = header_lines(headers)
        if len(_lines) < LINES_KEPT:
            _lines[key] = lines
    return lines


def reply_parts(status: int, headers: Headers, body: bytes, exec_ms: float | None) -> list[bytes]:
    """What a worker writes for one reply: one buffer for a small one, the frame and the body apart otherwise."""
    head = encode((status, _lines_of(headers), exec_ms, len(body)))
    return [head + body] if len(body) < SEPARATE_BODY else [head, body]
