"""Failure paths on real servers: run() raising, init() raising, workers dying or stuck, overload."""

import concurrent.futures
import re

import httpx
import pytest

from tests.conftest import Servers

RUN_FAILED = "An unexpected error occurred in scoring script. Check the logs for more info."


def test_run_raising_answers_500_and_logs_the_traceback(servers: Servers) -> None:
    server = servers.ours("run_raises.py")
    answer = httpx.post(server.url + "/score", content="payload")
    assert answer.status_code == 500
    assert answer.json() == {"message": RUN_FAILED}
    assert answer.headers["x-ms-run-function-failed"] == "True"
    assert httpx.get(server.url + "/").status_code == 200
    log = server.log()
    assert "ValueError: run() cannot handle payload" in log
    assert "run_raises.py" in log


def test_debug_errors_adds_the_traceback_to_the_body(servers: Servers) -> None:
    server = servers.ours("run_raises.py", args=["--debug-errors"])
    body = httpx.post(server.url + "/score", content="payload").json()
    assert body["message"] == RUN_FAILED
    assert "ValueError: run() cannot handle payload" in body["traceback"]


def test_init_raising_exits_non_zero_naming_file_line_and_fix(servers: Servers) -> None:
    server = servers.ours("init_raises.py", healthy=False, args=["--init-retries", "1"])
    assert server.wait_exit() == 3
    tail = "\n".join(server.log().splitlines()[-12:])
    assert re.search(r"init\(\) failed in .*init_raises\.py, line 5, in load_settings", tail), tail
    assert "FileNotFoundError" in tail
    assert "Fix:" in tail
    assert server.log().count("Booting worker with pid") == 2


def test_script_without_run_is_refused_in_plain_words(servers: Servers) -> None:
    server = servers.ours("no_run.py", healthy=False, args=["--init-retries", "0"])
    assert server.wait_exit() == 3
    assert "has no run() function" in server.log()


def test_health_is_503_until_init_finished(servers: Servers) -> None:
    server = servers.ours("slow_init.py", healthy=False)
    first = None
    while first is None:
        try:
            first = httpx.get(server.url + "/")
        except httpx.TransportError:
            continue
    assert first.status_code == 503
    server.wait_healthy()
    assert httpx.post(server.url + "/score", content="x").json() == "ready"


def test_worker_dying_mid_request_gives_502_and_is_restarted(servers: Servers) -> None:
    server = servers.ours("exit_in_run.py")
    answer = httpx.post(server.url + "/score", content="die")
    assert answer.status_code == 502
    assert "died" in answer.json()["message"]
    server.wait_healthy()
    assert httpx.post(server.url + "/score", content="hello", timeout=30).json() == "alive"
    assert "exited with code 1" in server.log()


def test_endless_run_gives_504_and_the_server_keeps_serving(servers: Servers) -> None:
    server = servers.ours("sleepy.py", args=["--scoring-timeout-ms", "500"])
    answer = httpx.post(server.url + "/score", content="forever", timeout=30)
    assert answer.status_code == 504
    assert answer.json()["message"].startswith("Scoring timeout after 500 ms")
    assert httpx.post(server.url + "/score", content="0", timeout=30).json() == "slept 0"
    log = server.log()
    assert "exceeded the scoring timeout of 500 ms" in log
    assert re.search(r'File ".*sleepy\.py", line \d+ in run', log), "the stuck frame is logged"


def test_overload_answers_200_or_503_and_loses_nothing(servers: Servers) -> None:
    server = servers.ours("sleepy.py", args=["--max-request-wait-ms", "100"])

    def post(_: int) -> httpx.Response:
        return httpx.post(server.url + "/score", content="0.2", timeout=30)

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(post, range(12)))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 1
    assert statuses.count(503) >= 1
    rejected = next(answer for answer in answers if answer.status_code == 503)
    assert rejected.headers["retry-after"] == "1"
    assert "busy" in rejected.json()["message"]


def test_two_workers_share_the_load(servers: Servers) -> None:
    server = servers.ours("pid.py", workers=2)
    server.wait_healthy()

    def post(_: int) -> int:
        return int(httpx.post(server.url + "/score", content="0.2", timeout=30).json())

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(20):
            if len(set(pool.map(post, range(2)))) == 2:
                return
    pytest.fail("two concurrent requests never ran in two different workers")
