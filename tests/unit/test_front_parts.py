"""Small parts of the front, checked on their own: request ids, the metrics' buckets, answers on the wire."""

import subprocess
import sys
import uuid
from pathlib import Path

from mldeploy.scoring.metrics import ServerMetrics
from mldeploy.scoring.request import new_request_id
from mldeploy.scoring.wire import answer_parts


def test_request_ids_are_version_4_uuids_and_differ() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_latency_buckets_hold_values_up_to_their_bound_as_prometheus_counts_them() -> None:
    metrics = ServerMetrics()
    for seconds in (0.001, 0.0011, 0.3, 100.0):
        metrics.observe("/score", 200, seconds)
    metrics.observe("other", 404, 0.0)
    text = metrics.render().decode()
    assert 'mldeploy_requests_total{route="/score",status="200"} 4.0' in text
    assert 'mldeploy_requests_total{route="other",status="404"} 1.0' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="0.001",route="/score"} 1.0' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="0.0025",route="/score"} 2.0' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="60.0",route="/score"} 3.0' in text
    assert 'mldeploy_request_duration_seconds_bucket{le="+Inf",route="/score"} 4.0' in text
    assert 'mldeploy_request_duration_seconds_count{route="/score"} 4.0' in text
    assert "mldeploy_queue_wait_seconds_count 0.0" in text


def test_an_answer_carries_its_length_and_closes_only_when_asked() -> None:
    [kept] = answer_parts(200, "Content-Type: application/json\r\n", b"[1]", keep_alive=True, head=False)
    assert kept.startswith(b"HTTP/1.1 200 OK\r\ndate: ") and kept.endswith(
        b"\r\nContent-Type: application/json\r\ncontent-length: 3\r\n\r\n[1]"
    )
    [closing] = answer_parts(418, "", b"", keep_alive=False, head=False)
    assert closing.startswith(b"HTTP/1.1 418 I'm a Teapot\r\n") and closing.endswith(b"connection: close\r\n\r\n")
    [head] = answer_parts(200, "", b"x" * 10, keep_alive=True, head=True)
    assert head.endswith(b"content-length: 10\r\n\r\n")
    top, payload = answer_parts(200, "", b"y" * 100_000, keep_alive=True, head=False)
    assert payload == b"y" * 100_000 and top.endswith(b"content-length: 100000\r\n\r\n")


def test_the_scoring_server_process_loads_neither_the_registry_nor_the_web_stack() -> None:
    """`mldeploy serve` runs the front in the CLI's process: what the CLI loads at start is the front's memory."""
    heavy = ("sqlalchemy", "uvicorn", "starlette", "docker", "kubernetes", "matplotlib")
    code = "import sys, mldeploy.cli, mldeploy.scoring.server; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not [name for name in heavy if f"'{name}'" in loaded], loaded


def test_the_harness_of_the_front_s_cost_still_drives_a_real_connection_to_real_answers() -> None:
    """bench/front_cpu.py reaches into the front (a connection, a channel, the dispatcher); it stops with an error
    when the answers it gets are not a server's."""
    harness = Path(__file__).parents[2] / "bench" / "front_cpu.py"
    run = subprocess.run([sys.executable, str(harness), "--requests", "2000"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "front's cost per request:" in run.stdout
