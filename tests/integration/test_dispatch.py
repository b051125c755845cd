"""Requests written to a worker ahead of their turn (while run() is fast, a worker holds up to 16): when the
request it runs kills it or passes the scoring timeout, only that one fails (502, 504); those written behind
it had not started, and are answered by the replacement worker."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Servers
from tests.support.servers import Server

pytestmark = pytest.mark.slow

QUICK = "0.003"


def statuses_under_load(server: Server, culprit: str, count: int = 40, at: int = 12) -> list[int]:
    """``count`` concurrent requests from as many clients, ``culprit`` as the ``at``-th; their status codes."""
    bodies = [culprit if index == at else QUICK for index in range(count)]
    with httpx.Client(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        for _ in range(20):  # run() is seen fast: requests are written ahead from now on
            assert client.post("/score", content=QUICK).status_code == 200
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(lambda body: client.post("/score", content=body).status_code, bodies))


def test_a_worker_that_dies_fails_only_the_request_it_ran(servers: Servers) -> None:
    server = servers.ours("sleep_or_die.py", args=["--max-request-wait-ms", "20000"])
    statuses = statuses_under_load(server, "die")
    assert statuses.count(502) == 1 and statuses[12] == 502
    assert statuses.count(200) == len(statuses) - 1, statuses


def test_a_worker_past_the_timeout_fails_only_the_request_it_ran(servers: Servers) -> None:
    server = servers.ours("sleep_or_die.py", args=["--max-request-wait-ms", "20000", "--scoring-timeout-ms", "1500"])
    statuses = statuses_under_load(server, "forever")
    assert statuses.count(504) == 1 and statuses[12] == 504
    assert statuses.count(200) == len(statuses) - 1, statuses
