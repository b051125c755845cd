"""Worker recycling (off by default): a worker that answered --max-requests-per-worker requests, or whose
resident memory passed --max-worker-rss-mb, is replaced by a new one that starts first, so no request fails
and a run() that leaks does not grow forever."""

import os
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Servers

pytestmark = pytest.mark.slow


def test_a_worker_is_replaced_after_its_request_count_without_failing_a_request(servers: Servers) -> None:
    server = servers.ours("pid.py", args=["--max-requests-per-worker", "25", "--max-request-wait-ms", "10000"])
    with httpx.Client(base_url=server.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.post("/score", content="0.01"), range(200)))  # 2 s of run()
    assert [answer.status_code for answer in answers] == [200] * 200
    assert len({answer.text for answer in answers}) >= 3  # workers took turns (each serves while the next starts)
    log = server.log()
    assert log.count("Recycling worker pid") >= 3 and "(--max-requests-per-worker)" in log
    assert "starting a new one" not in log  # a recycled worker is not a worker that died
    assert "Traceback" not in log


def test_a_leaking_worker_is_replaced_before_it_grows_past_its_memory_limit(servers: Servers) -> None:
    server = servers.ours("leaky.py", args=["--max-worker-rss-mb", "150", "--max-request-wait-ms", "10000"])
    pids = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(120):  # 480 MiB kept in all, over 3.6 s: three times the limit
            answer = client.post("/score", content="x")
            assert answer.status_code == 200
            pids.append(answer.text)
    assert len(set(pids)) >= 2
    with open(f"/proc/{pids[-1]}/statm") as statm:  # the last worker: at most a second of leaking past the limit
        assert int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") < 300 * 2**20
    log = server.log()
    assert "passed 150 MiB (--max-worker-rss-mb)" in log and "starting a new one" not in log
