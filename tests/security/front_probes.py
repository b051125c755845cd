"""What the security tests read of a running front: its memory and open files from /proc, and raw requests."""

import contextlib
import socket
from pathlib import Path

MIB = 1024 * 1024


def status_mib(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status in MiB: VmHWM (the peak resident set) or VmRSS (the current one)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def post_raw(port: int, body: bytes, headers: dict[str, str] | None = None, timeout_s: float = 120) -> int:
    """POST ``body`` to /score over a fresh connection, the whole body sent whatever the server answers
    early; the answer's status, or 0 when the server closed the connection without one."""
    head = ["POST /score HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as connection:
        connection.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(body)
        return read_status(connection)


def read_status(connection: socket.socket) -> int:
    answer = b""
    try:
        while b"\r\n" not in answer and (chunk := connection.recv(4096)):
            answer += chunk
    except ConnectionResetError:
        return 0
    return int(answer.split(b" ", 2)[1]) if answer else 0
