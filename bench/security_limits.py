"""The figures of docs/security.md, measured on our server with its default limits (one run, a few seconds):
the front's peak memory under large unauthenticated and keyed bodies, and its open files under idle
connections. Run: .venv/bin/python bench/security_limits.py
"""

import concurrent.futures
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.fixtures.models import build_app_root
from tests.security.front_probes import open_files, post_raw, status_mib
from tests.support.servers import Server, start_ours

KEY = "bench-key-0123456789abcdef"
BODY = b"7" * (99 * 1024 * 1024)


def bodies(server: Server, count: int, headers: dict[str, str]) -> str:
    start = status_mib(server.process.pid, "VmRSS")
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(lambda _: post_raw(server.port, BODY, headers), range(count)))
    peak = status_mib(server.process.pid, "VmHWM")
    answers = ", ".join(f"{statuses.count(status)}x {status}" for status in sorted(set(statuses)))
    return f"front RSS {start:.0f} MiB before, peak {peak:.0f} MiB; answers: {answers}"


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
        with start_ours("echo.py", app_root, root, open_files=1024, **model) as server:
            server.wait_healthy()
            rows.append(f"1,100 idle connections: {idle(server, 1100)}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
