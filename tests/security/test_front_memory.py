"""The front holds no request body it has not admitted: unauthenticated bodies are never read, the bodies it
holds at once stay within --max-buffered-mb, a request refused with 503 lets go of its body at once, and
request heads are capped. Memory is read from the front's own /proc status (VmHWM: its peak)."""

import concurrent.futures
import re
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import Servers
from tests.security.front_probes import post_raw, read_status, status_mib

pytestmark = pytest.mark.slow

KEY = "memory-test-key-0123456789"
BODY_99_MB = b"7" * (99 * 1024 * 1024)


def test_unauthenticated_bodies_are_answered_401_without_being_read(servers: Servers) -> None:
    server = servers.ours("body_size.py", args=["--auth-key", KEY])
    start = status_mib(server.process.pid, "VmRSS")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: post_raw(server.port, BODY_99_MB), range(8)))
    assert statuses == [401] * 8
    peak = status_mib(server.process.pid, "VmHWM")
    assert peak < start + 50, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
    keyed = httpx.post(server.url + "/score", content=b"abc", headers={"Authorization": f"Bearer {KEY}"})
    assert keyed.json() == 3


def test_bodies_held_at_once_stay_within_the_budget(servers: Servers) -> None:
    server = servers.ours("body_size.py", args=["--auth-key", KEY, "--max-buffered-mb", "200"])
    start = status_mib(server.process.pid, "VmRSS")
    headers = {"Authorization": f"Bearer {KEY}"}
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: post_raw(server.port, BODY_99_MB, headers), range(10)))
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    peak = status_mib(server.process.pid, "VmHWM")
    # two 99 MiB bodies fit in 200 MiB; each is briefly held twice (read, then framed for its worker)
    assert peak < start + 4 * 100 + 50, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
    assert "bodies held" in server.log()


def test_a_request_refused_with_503_lets_go_of_its_body(servers: Servers) -> None:
    server = servers.ours("sleepy.py", args=["--max-request-wait-ms", "50", "--scoring-timeout-ms", "30000"])
    busy = threading.Thread(target=httpx.post, args=(server.url + "/score",), kwargs={"content": "6", "timeout": 30})
    busy.start()
    time.sleep(0.5)
    start = status_mib(server.process.pid, "VmRSS")
    body = b"1" * (40 * 1024 * 1024)
    statuses = [post_raw(server.port, body) for _ in range(5)]
    assert statuses == [503] * 5
    held = status_mib(server.process.pid, "VmRSS") - start
    busy.join()
    assert held < 60, f"the front still holds {held:.0f} MiB after answering 503 to five 40 MiB requests"


def test_a_huge_request_head_is_refused_without_being_buffered(servers: Servers) -> None:
    server = servers.ours("echo.py")
    start = status_mib(server.process.pid, "VmRSS")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(64):
                connection.sendall(b"a" * (1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_status(connection) in (431, 0)
    assert status_mib(server.process.pid, "VmHWM") < start + 20
    one_chunk = httpx.post(server.url + "/score", content="x", headers={"X-Big": "a" * 100_000})
    assert one_chunk.status_code == 431
    assert "over 65536 bytes" in one_chunk.json()["message"]
    assert httpx.post(server.url + "/score", content="x", headers={"X-Fine": "a" * 30_000}).json() == "x"
    behind_a_body = b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1" + (
        b"POST /score HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Length: 1\r\n\r\n2" % (b"a" * 70_000)
    )  # the large head arrives with the end of the request before it (one write)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(behind_a_body)
        answers = b""
        while chunk := connection.recv(65536):
            answers += chunk
    assert re.findall(rb"HTTP/1.1 (\d+)", answers) == [b"200", b"431"], answers[:300]
