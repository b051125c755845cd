"""SIGHUP replaces the workers with ones running the edited score.py, without a failed request."""

import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from mldeploy.scoring.config import ServerConfig
from tests.conftest import Servers
from tests.support.servers import SCRIPTS, Server, free_port

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


def test_new_keys_apply_at_once_and_keep_the_workers(app_root: Path, log_dir: Path, tmp_path: Path) -> None:
    """A key change (what `service keys --regen` sends) is read by the front alone: the old key stops working and
    the worker that answered keeps answering, so a container sized for one worker is not asked for two."""
    port = free_port()
    config_file = tmp_path / "server.json"
    config = ServerConfig(entry_script=str(SCRIPTS / "pid.py"), app_root=str(app_root), port=port, auth_keys=("old",))
    config_file.write_text(config.to_json())
    command = [sys.executable, "-m", "mldeploy.scoring", str(config_file)]
    server = Server(command, port, app_root, dict(os.environ), log_dir / "rekey.log")
    try:
        server.wait_healthy()
        score = server.url + "/score"
        worker = httpx.post(score, content="0", headers={"Authorization": "Bearer old"}, timeout=10).json()
        config_file.write_text(dataclasses.replace(config, auth_keys=("new",)).to_json())
        os.kill(server.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while httpx.post(score, content="0", headers={"Authorization": "Bearer new"}, timeout=10).status_code != 200:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        assert httpx.post(score, content="0", headers={"Authorization": "Bearer old"}, timeout=10).status_code == 401
        same = httpx.post(score, content="0", headers={"Authorization": "Bearer new"}, timeout=10).json()
        assert same == worker, server.log()
        assert "Reloading" not in server.log()
    finally:
        server.stop()
