"""Large answers of run() are streamed from the worker to the client as they come: the front never holds one
whole, other requests are answered meanwhile, a slow client makes the worker wait (not the front grow), a
worker dying mid-answer cuts that client's connection only, and --max-response-mb caps the size with a 500."""

import os
import signal
import threading
import time

import httpx
import pytest

from tests.conftest import Servers
from tests.support.servers import Server

pytestmark = pytest.mark.slow

SIZE = 500_000_000


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def slow_download(server: Server, size: int, received: list[int], done: threading.Event) -> None:
    """Ask for ``size`` bytes and read them a piece at a time, slower than the worker sends them."""
    try:
        with httpx.stream("POST", server.url + "/score", content=str(size), timeout=120) as answer:
            assert answer.headers["content-length"] == str(size)
            for piece in answer.iter_raw(8 * 1024 * 1024):
                received[0] += len(piece)
                time.sleep(0.05)
    except httpx.HTTPError:
        pass
    finally:
        done.set()


def test_a_500_mb_answer_is_streamed_while_other_requests_are_answered(servers: Servers) -> None:
    server = servers.ours("large_answer.py", workers=2)
    received, done = [0], threading.Event()
    download = threading.Thread(target=slow_download, args=(server, SIZE, received, done))
    download.start()
    while received[0] < 50_000_000:  # the answer is flowing
        assert not done.is_set()
        time.sleep(0.01)
    health = httpx.get(server.url + "/", timeout=10)
    small = httpx.post(server.url + "/score", content="10", timeout=10)
    assert health.status_code == 200 and small.content == bytes(10)
    assert not done.is_set(), "the large answer was still on its way while the others were answered"
    download.join(120)
    assert received[0] == SIZE
    assert peak_rss_mib(server.process.pid) < 200, "the front never held the answer whole"


def test_a_worker_dying_mid_answer_cuts_only_that_connection(servers: Servers) -> None:
    server = servers.ours("large_answer.py")
    received, done = [0], threading.Event()
    download = threading.Thread(target=slow_download, args=(server, SIZE, received, done))
    download.start()
    while received[0] < 20_000_000:
        time.sleep(0.01)
    [worker] = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _is_worker_of(int(pid), server)]
    os.kill(worker, signal.SIGKILL)
    download.join(60)
    assert 0 < received[0] < SIZE  # the client saw a cut answer, not a complete wrong one
    deadline = time.monotonic() + 30
    while httpx.get(server.url + "/", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert httpx.post(server.url + "/score", content="10", timeout=10).content == bytes(10)


def _is_worker_of(pid: int, server: Server) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/cmdline", "rb") as command:
            return parent == server.process.pid and b"mldeploy.scoring.worker" in command.read()
    except OSError:
        return False


def test_an_answer_over_the_limit_is_a_500_saying_so(servers: Servers) -> None:
    server = servers.ours("large_answer.py", args=["--max-response-mb", "1"])
    under = httpx.post(server.url + "/score", content="500000", timeout=30)
    over = httpx.post(server.url + "/score", content="2000000", timeout=30)
    assert under.status_code == 200 and len(under.content) == 500_000
    assert over.status_code == 500
    assert "over the limit of 1048576 bytes (--max-response-mb)" in over.json()["message"]
