"""Frames exchanged between the HTTP front and its worker processes over a Unix socket pair.

A frame is a 4-byte big-endian length followed by a ``marshal``-encoded tuple. Both ends are our own
code, so marshal (fast, stdlib, handles bytes/str/tuples/lists/dicts) is safe here.

Front -> worker: ``(method, path, query_string, headers, body)`` with headers a list of ``(name, value)``.
Worker -> front, once after start: ``("ready", info)`` or ``("init_failed", report)``.
Worker -> front, per request: ``(status, headers, body, exec_ms)``.
"""

import marshal
import struct
from typing import Any

HEADER = struct.Struct("!I")
HEADER_SIZE = HEADER.size

READY = "ready"
SPARE_START = "start"  # front -> spare worker: ("start", environment) to become a worker of that environment
INIT_FAILED = "init_failed"


def encode(message: Any) -> bytes:
    payload = marshal.dumps(message)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> Any:
    return marshal.loads(payload)
