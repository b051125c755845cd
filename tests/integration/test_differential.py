"""The reference server is the oracle: every fixture script is served by azmlinfsrv and by mldeploy,
and the same request must get the same status, content type and body from both.

Where mldeploy deliberately answers differently, the case names the difference and checks both sides.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Servers
from tests.support.servers import Server

pytestmark = [pytest.mark.reference, pytest.mark.slow]

SEED_SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]})
NUMPY_ROW = [0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.01]
MULTIPART = {"files": [("file[]", ("a.txt", b"hello")), ("file[]", ("b.bin", b"\x00\x01\x02"))]}


@dataclass(frozen=True)
class Case:
    name: str
    script: str
    method: str = "POST"
    path: str = "/score"
    request: dict[str, Any] = field(default_factory=dict)
    # A deliberate difference: (why, our status, the reference's status)
    differs: tuple[str, int, int] | None = None


CASES = [
    Case("echo-json", "echo.py", request={"json": {"data": [1, 2, 3]}}),
    Case("echo-text", "echo.py", request={"content": "plain text, not JSON"}),
    Case("echo-empty", "echo.py", request={"content": b""}),
    Case("echo-unicode", "echo.py", request={"content": "héllo ✓".encode()}),
    Case("echo-not-utf8", "echo.py", request={"content": b"\xff\xfe\x00"}),
    Case("echo-get-params", "echo.py", "GET", request={"params": [("a", "1"), ("b", "[1,2]"), ("c", "x"), ("c", "y")]}),
    Case("echo-options", "echo.py", "OPTIONS"),
    Case("echo-put", "echo.py", "PUT", request={"content": "x"}),
    Case("health", "echo.py", "GET", "/"),
    Case("not-found", "echo.py", "GET", "/nothing-here"),
    Case("swagger-default", "echo.py", "GET", "/swagger.json"),
    Case("swagger-v3", "echo.py", "GET", "/swagger.json", {"params": {"version": "3"}}),
    Case("swagger-bad-version", "echo.py", "GET", "/swagger.json", {"params": {"version": "9"}}),
    Case("request-id-too-long", "echo.py", request={"content": "x", "headers": {"x-request-id": "r" * 101}}),
    Case("client-id-too-long", "echo.py", request={"content": "x", "headers": {"x-ms-client-request-id": "c" * 101}}),
    Case("seed-sample", "seed_predict.py", request={"content": SEED_SAMPLE}),
    Case("seed-caught-error", "seed_predict.py", request={"content": "this is not JSON"}),
    Case("predict-list", "predict_list.py", request={"content": SEED_SAMPLE}),
    Case("headers", "headers.py", request={"content": "x", "headers": {"X-Custom": "custom value"}}),
    Case("json-string", "returns_json_string.py", request={"json": {"a": [1, 2]}}),
    Case("none", "returns_none.py", request={"content": "x"}),
    Case("run-raises", "run_raises.py", request={"content": "some input"}),
    Case("numpy-ok", "schema_numpy.py", request={"json": {"data": [NUMPY_ROW]}}),
    Case("numpy-ignores-unknown-keys", "schema_numpy.py", request={"json": {"data": [NUMPY_ROW], "other": 1}}),
    Case("numpy-get", "schema_numpy.py", "GET", request={"params": {"data": json.dumps([NUMPY_ROW])}}),
    Case(
        "numpy-not-json-type", "schema_numpy.py", request={"content": "{}", "headers": {"Content-Type": "text/plain"}}
    ),
    Case("numpy-empty", "schema_numpy.py", request={"content": b"", "headers": {"Content-Type": "application/json"}}),
    Case(
        "numpy-bad-json",
        "schema_numpy.py",
        request={"content": b"{oops", "headers": {"Content-Type": "application/json"}},
    ),
    Case("numpy-not-object", "schema_numpy.py", request={"json": [1, 2]}),
    Case("numpy-missing", "schema_numpy.py", request={"json": {"other": 1}}),
    Case("numpy-swagger", "schema_numpy.py", "GET", "/swagger.json"),
    Case("numpy-swagger-3", "schema_numpy.py", "GET", "/swagger.json", {"params": {"version": "3"}}),
    Case("numpy-swagger-3.1", "schema_numpy.py", "GET", "/swagger.json", {"params": {"version": "3.1"}}),
    Case("numpy-options", "schema_numpy.py", "OPTIONS"),
    Case(
        "numpy-wrong-type",
        "schema_numpy.py",
        request={"json": {"data": "not an array"}},
        differs=("a value the schema cannot convert is the client's mistake: 400 naming the field", 400, 500),
    ),
    Case("multi-truncates", "schema_multi.py", request={"json": {"counts": [1.7, 2.2, 3.9], "scale": 2}}),
    Case("multi-optional", "schema_multi.py", request={"json": {"counts": [4], "scale": 0.5, "label": "x"}}),
    Case("multi-missing", "schema_multi.py", request={"json": {"counts": [4]}}),
    Case("multi-swagger", "schema_multi.py", "GET", "/swagger.json", {"params": {"version": "3"}}),
    Case(
        "pandas",
        "schema_pandas.py",
        request={"json": {"frame": {"age": [3, 4], "income": [1.5, 2.5], "city": ["b", "a"]}}},
    ),
    Case("pandas-swagger", "schema_pandas.py", "GET", "/swagger.json"),
    Case(
        "standard-nested",
        "schema_standard.py",
        request={"json": {"payload": {"matrix": [[1, 2], [3, 4]], "table": {"a": [1], "b": ["y"]}, "label": "s"}}},
    ),
    Case("standard-swagger", "schema_standard.py", "GET", "/swagger.json", {"params": {"version": "3"}}),
    Case("raw-multipart", "rawhttp_files.py", request=MULTIPART),
    Case("raw-text-422", "rawhttp_files.py", request={"params": {"mode": "text"}, "content": "abc"}),
    Case("raw-bytes", "rawhttp_files.py", request={"params": {"mode": "bytes"}, "content": b"\x01\x02abc"}),
    Case("raw-stream", "rawhttp_files.py", request={"params": {"mode": "stream"}, "content": b"0123456789"}),
    Case("raw-get", "rawhttp_files.py", "GET", request={"params": [("a", "1"), ("a", "2"), ("b", "x")]}),
    Case(
        "numpy-result",
        "returns_numpy.py",
        request={"content": "x"},
        differs=("NumPy values in run()'s result are converted to JSON instead of failing", 200, 500),
    ),
]


@pytest.fixture(scope="module")
def pairs(module_servers: Servers) -> Iterator[dict[str, tuple[Server, Server]]]:
    started: dict[str, tuple[Server, Server]] = {}

    def get(script: str) -> tuple[Server, Server]:
        if script not in started:
            started[script] = (module_servers.ours(script), module_servers.reference(script))
        return started[script]

    yield get  # type: ignore[misc]


def _send(server: Server, case: Case) -> httpx.Response:
    return httpx.request(case.method, server.url + case.path, timeout=30, **case.request)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_same_answer_as_reference(case: Case, pairs) -> None:  # type: ignore[no-untyped-def]
    ours, reference = pairs(case.script)
    mine, theirs = _send(ours, case), _send(reference, case)
    if case.differs is not None:
        _why, our_status, reference_status = case.differs
        assert (mine.status_code, theirs.status_code) == (our_status, reference_status), mine.text
        assert mine.headers["content-type"] == "application/json"
        return
    assert mine.status_code == theirs.status_code, (mine.text, theirs.text)
    assert mine.headers.get("content-type") == theirs.headers.get("content-type")
    assert mine.content == theirs.content
    assert mine.headers.get("x-ms-run-function-failed") == theirs.headers.get("x-ms-run-function-failed")
    for name in ("x-request-id", "x-ms-request-id", "x-ms-client-request-id"):
        assert (name in mine.headers) == (name in theirs.headers), name


def test_request_ids_are_echoed_like_the_reference(pairs) -> None:  # type: ignore[no-untyped-def]
    headers = {"x-request-id": "req-1", "x-ms-client-request-id": "client-1", "TraceId": "trace-9"}
    answers = [httpx.post(server.url + "/score", content="x", headers=headers) for server in pairs("echo.py")]
    for name in ("x-request-id", "x-ms-request-id", "x-ms-client-request-id", "traceid"):
        assert answers[0].headers[name] == answers[1].headers[name], name
    assert float(answers[0].headers["x-ms-run-fn-exec-ms"]) >= 0
