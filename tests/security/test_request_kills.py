"""No request ends a worker: input that the decoders choke on is a 400, anything else that goes wrong on the
way through the worker is a 500 for that request alone; the access log cannot be forged."""

import re

import httpx
import pytest

from tests.conftest import Servers

DEEP_QUERY = "a=" + "[" * 3000 + "]" * 3000
DEEP_BODY = b"[" * 100_000
HUGE_INTEGER = b'{"payload": ' + b"7" * 5000 + b"}"
DEEP_OBJECT = b'{"payload": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"


def worker_pid(server: object) -> int:
    return int(httpx.post(server.url + "/score", content="0").json())  # type: ignore[attr-defined]


def test_a_deep_query_is_a_400_and_the_worker_lives(servers: Servers) -> None:
    server = servers.ours("pid.py")
    before = worker_pid(server)
    answer = httpx.get(f"{server.url}/score?{DEEP_QUERY}")
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["message"]
    assert worker_pid(server) == before


@pytest.mark.parametrize(
    "body", [DEEP_BODY, HUGE_INTEGER, DEEP_OBJECT], ids=["deep-array", "5000-digits", "deep-object"]
)
def test_schema_bodies_that_break_the_json_decoder_are_400s(body: bytes, servers: Servers) -> None:
    server = servers.ours("schema_standard.py")
    answer = httpx.post(server.url + "/score", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith("POST body could not be decoded as JSON")
    assert "Traceback" not in server.log()
    assert "Booting worker with pid" in server.log()
    assert server.log().count("Booting worker with pid") == 1


@pytest.mark.slow
def test_a_flood_of_killer_requests_leaves_every_worker_serving(servers: Servers) -> None:
    server = servers.ours("pid.py", workers=2)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(60):
            assert client.get(f"/score?{DEEP_QUERY}").status_code == 400
            assert client.post("/score", content="0").status_code == 200
    metrics = httpx.get(server.url + "/metrics").text
    assert re.search(r"^mldeploy_workers_ready 2\.0$", metrics, re.M), metrics
    assert re.search(r"^mldeploy_worker_restarts_total 0\.0$", metrics, re.M), metrics


@pytest.mark.parametrize(
    ("query", "problem"),
    [("status=999", "status code 999"), ("header=%E2%82%AC", "Latin-1")],
)
def test_a_response_http_cannot_carry_is_a_500_naming_the_problem(query: str, problem: str, servers: Servers) -> None:
    server = servers.ours("bad_response.py")
    answer = httpx.get(f"{server.url}/score?{query}")
    assert answer.status_code == 500
    assert problem in answer.json()["message"]
    assert httpx.get(f"{server.url}/score?status=201").status_code == 201
    assert server.log().count("Booting worker with pid") == 1


def test_control_characters_in_the_path_cannot_forge_access_log_lines(servers: Servers) -> None:
    server = servers.ours("echo.py")
    forged = "2026-01-01 00:00:00,000 I [1] mldeploy.access - POST /score 200 1.000ms 2"
    httpx.get(f"{server.url}/x%0A{forged.replace(' ', '%20')}%1B[31m")
    httpx.post(server.url + "/score", content="flush")
    server.stop()
    log = server.log()
    assert not any(line.startswith(forged) for line in log.splitlines())
    assert "/x\\n2026-01-01" in log
    assert "\\x1b[31m" in log
