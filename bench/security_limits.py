"""The figures of docs/security.md, measured on our server with its default limits (one run, under a minute):
the front's peak memory under large unauthenticated and keyed bodies (chunked too) and under many smaller ones,
and whether it gives it back; its answers to heads of many headers; its open files under idle connections.
Run: .venv/bin/python bench/security_limits.py
"""

import concurrent.futures
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.fixtures.models import build_app_root
from tests.security.front_probes import (
    ask,
    bodies_held_at_once,
    finish_chunked,
    heads_left_unfinished,
    open_files,
    post_chunked,
    post_raw,
    request_with_headers,
    status_mib,
)
from tests.support.servers import Server, start_ours

KEY = "bench-key-0123456789abcdef"
BODY = b"7" * (99 * 1024 * 1024)


def counted(statuses: list[int]) -> str:
    return ", ".join(f"{statuses.count(status)}x {status}" for status in sorted(set(statuses)))


def memory(pid: int, start: float) -> str:
    """The front's memory: before (``start``), its peak, and a second after the requests ended."""
    peak = status_mib(pid, "VmHWM")
    time.sleep(1)
    return f"front RSS {start:.0f} MiB before, peak {peak:.0f} MiB, {status_mib(pid, 'VmRSS'):.0f} MiB 1 s after"


def bodies(server: Server, count: int, headers: dict[str, str]) -> str:
    start = status_mib(server.process.pid, "VmRSS")
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(lambda _: post_raw(server.port, BODY, headers), range(count)))
    return f"{memory(server.process.pid, start)}; answers: {counted(statuses)}"


def chunked_bodies(server: Server, count: int) -> str:
    start = status_mib(server.process.pid, "VmRSS")
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _: post_chunked(server.port, 99, {"X-Mldeploy-Key": KEY}), range(count)))
    refused = sorted(sent for status, sent in answers if status == 503)
    sent = f"; the client had sent {refused[0]}-{refused[-1]} MiB of each refused body" if refused else ""
    return f"{memory(server.process.pid, start)}; answers: {counted([status for status, _ in answers])}{sent}"


def smaller_bodies(server: Server, count: int, size: int) -> str:
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    with bodies_held_at_once(server.port, pid, count, size) as connections:
        statuses = finish_chunked(connections)
        return f"{memory(pid, start)} (connections still open); answers: {counted(statuses)}"


def many_headers(server: Server) -> str:
    statuses = [int(ask(server.port, request_with_headers(count))[9:12]) for count in (100, 101, 20_000)]
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    head = b"POST /score HTTP/1.1\r\nHost: x\r\n" + b"ab: cd\r\n" * 7_500
    unfinished = [int(answer[9:12] or 0) for answer in heads_left_unfinished(server.port, 200, head)]
    return (
        f"100 headers: {statuses[0]}, 101: {statuses[1]}, 20,000 (117 KiB): {statuses[2]}; 200 connections each "
        f"sending 7,500 headers (60 KB) and no more: {counted(unfinished)}, front RSS {start:.0f} MiB before, "
        f"peak {status_mib(pid, 'VmHWM'):.0f} MiB"
    )


def idle(server: Server, count: int) -> str:
    before = open_files(server.process.pid)
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
    time.sleep(0.5)
    held = open_files(server.process.pid)
    started = time.monotonic()
    for connection in sockets:
        connection.settimeout(60)
        connection.recv(1)
    closed_after = time.monotonic() - started
    for connection in sockets:
        connection.close()
    time.sleep(0.5)
    return (
        f"open files {before} before, {held} with {count} idle connections (soft limit raised from 1024), "
        f"{open_files(server.process.pid)} after the server closed them ({closed_after:.1f} s later)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        app_root = build_app_root(root / "app", versions=(1,))
        model = {"model_dir": "azureml-models/sk-model/1"}
        rows = []
        for title, headers in (("8 x 99 MiB POSTs, no key", {}), ("10 x 99 MiB POSTs, keyed", {"X-Mldeploy-Key": KEY})):
            count = 8 if not headers else 10
            with start_ours("body_size.py", app_root, root, args=["--auth-key", KEY], **model) as server:
                server.wait_healthy()
                rows.append(f"{title}: {bodies(server, count, headers)}")
        with start_ours("body_size.py", app_root, root, args=["--auth-key", KEY], **model) as server:
            server.wait_healthy()
            rows.append(f"10 x 99 MiB chunked POSTs, keyed: {chunked_bodies(server, 10)}")
        with start_ours("body_size.py", app_root, root, args=["--max-request-wait-ms", "60000"], **model) as server:
            server.wait_healthy()
            rows.append(f"500 chunked bodies of 200 KiB held at once: {smaller_bodies(server, 500, 200 * 1024)}")
        with start_ours("echo.py", app_root, root, **model) as server:
            server.wait_healthy()
            rows.append(f"Headers: {many_headers(server)}")
        with start_ours("echo.py", app_root, root, open_files=1024, **model) as server:
            server.wait_healthy()
            rows.append(f"1,100 idle connections: {idle(server, 1100)}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
