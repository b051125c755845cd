"""The front holds no request body it has not admitted: unauthenticated bodies are never read, the bodies it
holds at once stay within --max-buffered-mb (chunked ones counted as they arrive), a request refused with 503
lets go of its body at once, memory goes back to the system when requests end, and request heads are capped
in size and in headers. Memory is read from the front's own /proc status (VmHWM: its peak)."""

import concurrent.futures
import re
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import Servers
from tests.security.front_probes import (
    MIB,
    ask,
    bodies_held_at_once,
    finish_chunked,
    heads_left_unfinished,
    post_chunked,
    post_raw,
    read_answer,
    read_status,
    request_with_headers,
    send_chunked,
    status_mib,
)

pytestmark = pytest.mark.slow

KEY = "memory-test-key-0123456789"
BODY_99_MB = b"7" * (99 * 1024 * 1024)
BUDGET_MIB = 256  # the default --max-buffered-mb
SLACK_MIB = 16  # the front's memory besides the bodies it holds (the piece being read is under 1 MiB)


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
    # two 99 MiB bodies fit in 200 MiB, each held once (handed to its worker as it was read)
    assert peak < start + 200 + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
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


def wait_given_back(pid: int, start: float) -> None:
    """The front's resident memory comes back to within SLACK_MIB of ``start`` (polled: memory is freed as each
    request ends)."""
    deadline = time.monotonic() + 10
    while (kept := status_mib(pid, "VmRSS") - start) > SLACK_MIB and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kept <= SLACK_MIB, f"the front still holds {kept:.0f} MiB more than before the requests"


def hold_body(port: int, mib: int) -> socket.socket:
    """A connection whose request (Content-Length: ``mib`` MiB) was admitted, its body not sent: the front holds
    its room in the budget (and its buffer) until the connection closes."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {mib * MIB}\r\nExpect: 100-continue\r\n"
    connection.sendall(f"{head}Authorization: Bearer {KEY}\r\n\r\n".encode())
    assert connection.recv(100).startswith(b"HTTP/1.1 100 Continue"), "the request was not admitted"
    return connection


def test_chunked_bodies_are_counted_as_they_arrive_held_once_and_given_back(servers: Servers) -> None:
    server = servers.ours("body_size.py", args=["--auth-key", KEY])
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    keyed = {"Authorization": f"Bearer {KEY}"}
    # once freed, this body would raise glibc's mmap threshold to its size, unless the front fixed it: the chunked
    # bodies below would then grow in the heap, copied as they grow
    assert post_raw(server.port, b"7" * (31 * MIB), keyed) == 200
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post_chunked(server.port, 99, keyed), range(10)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses, answers
    peak = status_mib(pid, "VmHWM")
    assert peak < start + BUDGET_MIB + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
    wait_given_back(pid, start)

    holders = [hold_body(server.port, mib) for mib in (99, 99, 50)]  # 248 of the 256 MiB budget
    with socket.create_connection(("127.0.0.1", server.port), timeout=120) as connection:
        sent = send_chunked(connection, 99, keyed)
        answer = read_answer(connection)  # to its end: the server closes the connection
    assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer, answer[:300]
    assert sent < 99, "the server read the whole chunked body before refusing it"
    for holder in holders:
        holder.close()
    peak = status_mib(pid, "VmHWM")
    assert peak < start + BUDGET_MIB + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
    wait_given_back(pid, start)


def test_a_body_is_let_go_of_once_its_answer_starts_streaming(servers: Servers) -> None:
    """Its room in the budget is given back when the answer's head is written: the body itself must go then too,
    not when the last byte of a long answer reaches a slow client."""
    server = servers.ours("echo.py", args=["--auth-key", KEY, "--max-request-wait-ms", "60000"])
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    head = (
        f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY_99_MB)}\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as slow_reader:
        slow_reader.sendall(head.encode() + BODY_99_MB)
        assert slow_reader.recv(12) == b"HTTP/1.1 200"  # run() echoed 99 MiB: streamed, and this client stops reading
        holders = [hold_body(server.port, 99), hold_body(server.port, 99)]  # queued behind it: 198 of 256 MiB
        peak = status_mib(pid, "VmHWM")
        for holder in holders:
            holder.close()
    assert peak < start + BUDGET_MIB + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"


def test_smaller_bodies_held_at_once_are_given_back(servers: Servers) -> None:
    """Bodies under 256 KiB are served from the heap (larger ones are each their own mapping): once none is held,
    the heap pages they used go back to the system."""
    server = servers.ours("body_size.py", args=["--max-request-wait-ms", "60000"])
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    with bodies_held_at_once(server.port, pid, 500, 200 * 1024) as connections:  # 98 MiB
        assert finish_chunked(connections) == [200] * 500
        peak = status_mib(pid, "VmHWM")
        assert peak < start + 98 + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
        wait_given_back(pid, start)  # the connections still open


def test_a_request_with_more_headers_than_the_limit_is_refused_with_431(servers: Servers) -> None:
    server = servers.ours("echo.py")
    assert ask(server.port, request_with_headers(100)).endswith(b'\r\n\r\n"1"')
    refused = ask(server.port, request_with_headers(101))
    assert refused.startswith(b"HTTP/1.1 431"), refused[:300]
    assert b"The request has more than 100 headers (101 received)." in refused
    many = request_with_headers(20_000)  # 117 KiB, of which names and values are 39 KiB
    assert ask(server.port, many).startswith(b"HTTP/1.1 431")
    assert "Request refused with 431: 101 headers, over the limit of 100" in server.log()


def test_the_head_size_limit_counts_the_whole_head(servers: Servers) -> None:
    server = servers.ours("echo.py", args=["--max-headers", "30000"])
    under = request_with_headers(10_000)  # a head of 60,053 bytes
    assert ask(server.port, under).endswith(b'\r\n\r\n"1"')
    over = ask(server.port, request_with_headers(20_000))
    assert over.startswith(b"HTTP/1.1 431") and b"over 65536 bytes" in over, over[:300]


def test_a_head_of_many_small_headers_is_refused_while_it_arrives(servers: Servers) -> None:
    """A head still arriving is checked after each read: with more headers than the limit, it is refused at once,
    its headers not kept until it ends or times out."""
    server = servers.ours("echo.py")
    pid = server.process.pid
    start = status_mib(pid, "VmRSS")
    head = b"POST /score HTTP/1.1\r\nHost: x\r\n" + b"ab: cd\r\n" * 7_500  # 60 KB, under the size limit, no end
    answers = heads_left_unfinished(server.port, 200, head)
    refused = [answer for answer in answers if answer.startswith(b"HTTP/1.1 431") and b"than 100 headers" in answer]
    assert len(refused) == 200, answers[0][:300]
    peak = status_mib(pid, "VmHWM")
    assert peak < start + SLACK_MIB, f"the front grew from {start:.0f} MiB to a peak of {peak:.0f} MiB"
