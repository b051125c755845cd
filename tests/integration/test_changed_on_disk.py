"""mldeploy upgraded or edited in place while a server runs: a worker started afterwards runs the new code and may
frame its replies differently, so the front refuses it and says how to fix it; the workers it has keep serving."""

import os
import signal
import sys
import time
from pathlib import Path

import httpx

from mldeploy.scoring import protocol
from mldeploy.scoring.app import NO_WORKER
from mldeploy.scoring.config import ServerConfig
from tests.support.package_copy import copy_of_mldeploy
from tests.support.servers import SCRIPTS, Server, free_port


def test_a_worker_of_a_changed_mldeploy_is_refused_and_the_others_keep_serving(
    app_root: Path, log_dir: Path, tmp_path: Path
) -> None:
    package = copy_of_mldeploy(tmp_path / "site")
    port = free_port()
    config_file = tmp_path / "server.json"
    config = ServerConfig(entry_script=str(SCRIPTS / "pid.py"), app_root=str(app_root), port=port, workers=2)
    config_file.write_text(config.to_json())
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "mldeploy.scoring", str(config_file)]
    server = Server(command, port, app_root, environment, log_dir / "changed-on-disk.log")
    try:
        server.wait_healthy()
        score = server.url + "/score"
        pids = {httpx.post(score, content="0", timeout=10).json() for _ in range(20)}
        assert len(pids) == 2, server.log()

        frames = package / "scoring" / "protocol.py"
        text = frames.read_text()
        frames.write_text(text.replace(f"VERSION = {protocol.VERSION}", f"VERSION = {protocol.VERSION + 1000}", 1))
        killed = pids.pop()
        os.kill(killed, signal.SIGKILL)

        deadline = time.monotonic() + 30
        while "mldeploy changed on disk since this server started" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        log = server.log()
        assert f"frame protocol {protocol.VERSION + 1000}, this server {protocol.VERSION}" in log
        assert f"Restart the server (pid {server.process.pid})" in log
        assert "Reload failed" not in log  # no reload was asked: the serving generation goes on with one worker
        answers = [httpx.post(score, content="0", timeout=10) for _ in range(10)]
        assert [answer.status_code for answer in answers] == [200] * 10
        assert {answer.json() for answer in answers} == pids  # the worker left serves every request
        time.sleep(1.0)
        assert server.log().count("mldeploy changed on disk") == 1  # refused once, not started again and again

        os.kill(pids.pop(), signal.SIGKILL)  # the last worker too: the server stays, and says why it cannot serve
        while server.log().count("mldeploy changed on disk") < 2:
            assert time.monotonic() < deadline + 30, server.log()
            time.sleep(0.1)
        health = httpx.get(server.url + "/", timeout=10)
        refused = httpx.post(score, content="0", timeout=10)
        assert health.status_code == refused.status_code == 503
        assert health.json()["message"] == refused.json()["message"] == NO_WORKER
        assert refused.headers["retry-after"] == "1"
        assert server.process.poll() is None
    finally:
        server.stop()
