"""What the security tests read of a running front: its memory, open files and bytes read from /proc, and raw
requests."""

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024
LAST_CHUNK = b"0\r\n\r\n"


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


def send_chunked(connection: socket.socket, pieces: int, headers: dict[str, str] | None = None) -> int:
    """Send a POST /score of ``pieces`` chunks of 1 MiB, until all are sent, an answer comes or the server closes
    the connection; how many pieces were sent."""
    head = ["POST /score HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sent = 0
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        while sent < pieces and not select.select([connection], [], [], 0)[0]:
            connection.sendall(chunk_of(MIB))
            sent += 1
        if sent == pieces:
            connection.sendall(LAST_CHUNK)
    return sent


def chunk_of(size: int) -> bytes:
    return b"%x\r\n%s\r\n" % (size, b"7" * size)


@contextlib.contextmanager
def bodies_held_at_once(port: int, pid: int, count: int, size: int) -> Iterator[list[socket.socket]]:
    """``count`` connections, each with a chunked POST /score of which the front (process ``pid``) has read a
    first piece of ``size`` bytes: it holds all those bodies at once. ``finish_chunked`` ends them; on leaving,
    the connections are closed."""
    read_before = bytes_read(pid)
    request = b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_of(size)
    connections = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(count)]
    try:
        for connection in connections:
            connection.sendall(request)
        deadline = time.monotonic() + 30
        while bytes_read(pid) - read_before < len(request) * count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bytes_read(pid) - read_before >= len(request) * count, "the front did not read the bodies in 30 s"
        yield connections
    finally:
        for connection in connections:
            connection.close()


def finish_chunked(connections: list[socket.socket]) -> list[int]:
    """End the chunked body of each connection's request; the statuses of the answers."""
    for connection in connections:
        connection.sendall(LAST_CHUNK)
    return [read_status(connection) for connection in connections]


def request_with_headers(count: int, line: bytes = b"a: b") -> bytes:
    """A POST /score of the body "1" with ``count`` headers: Host, Content-Length, Connection: close, then
    ``line`` repeated."""
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n"
    return head + (line + b"\r\n") * (count - 3) + b"\r\n1"


def ask(port: int, request: bytes) -> bytes:
    """The answer to ``request`` on a fresh connection, read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(request)
        return read_answer(connection)


def heads_left_unfinished(port: int, count: int, head: bytes) -> list[bytes]:
    """``count`` connections each send ``head`` and nothing more; the answer on each, read until the server
    closes it."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(count)]
    try:
        for connection in connections:
            connection.sendall(head)
        return [read_answer(connection) for connection in connections]
    finally:
        for connection in connections:
            connection.close()


def post_chunked(port: int, pieces: int, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """``send_chunked`` over a fresh connection: the answer's status (0: none) and the pieces sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        sent = send_chunked(connection, pieces, headers)
        return read_status(connection), sent


def read_answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def bytes_read(pid: int) -> int:
    """The bytes process ``pid`` has read from files and sockets (/proc/PID/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise KeyError("rchar")


def read_status(connection: socket.socket) -> int:
    answer = b""
    try:
        while b"\r\n" not in answer and (chunk := connection.recv(4096)):
            answer += chunk
    except ConnectionResetError:
        return 0
    return int(answer.split(b" ", 2)[1]) if answer else 0
