"""SIGHUP replaces the workers with ones running the edited score.py, without a failed request."""

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import Servers

VERSION_SCRIPT = "def init():\n    pass\n\n\ndef run(raw_data):\n    return {answer!r}\n"
BROKEN_SCRIPT = "def init():\n    raise RuntimeError('broken on purpose')\n\n\ndef run(raw_data):\n    return 'never'\n"


def _answer(url: str) -> str:
    return str(httpx.post(url + "/score", content="x", timeout=10).json())


def _wait_for_answer(url: str, expected: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while _answer(url) != expected:
        assert time.monotonic() < deadline, f"never answered {expected!r}"
        time.sleep(0.05)


def test_reload_on_sighup_picks_up_the_edit_without_failed_requests(servers: Servers, tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text(VERSION_SCRIPT.format(answer="v1"))
    server = servers.ours(script, app_root=tmp_path, workers=2)
    statuses: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as session:
            while not stop.is_set():
                statuses.append(session.post("/score", content="x").status_code)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        script.write_text(VERSION_SCRIPT.format(answer="v2"))
        os.kill(server.process.pid, signal.SIGHUP)
        _wait_for_answer(server.url, "v2")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert statuses and set(statuses) == {200}, {status: statuses.count(status) for status in set(statuses)}

    script.write_text(BROKEN_SCRIPT)
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while "Reload failed" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert _answer(server.url) == "v2"
    assert "broken on purpose" in server.log()
