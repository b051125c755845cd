"""Two scoring servers sharing a port (``reuse_port`` in their config and $MLDEPLOY_TAKE_OVER=1 for the new one,
as the Docker target sets them): the new one listens only once ready and takes every new connection, the old one
answers what it has and exits 0, and a client looping meanwhile sees no failure. Other servers never share a
port."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mldeploy.scoring.config import ServerConfig
from mldeploy.scoring.reuseport import TAKE_OVER_ENV
from tests.support.handover import LoopingClient, resets_on_close
from tests.support.servers import Server, free_port

SLOW_START = "import time\n\n\ndef init():\n    time.sleep({seconds})\n\n\ndef run(data):\n    return {name!r}\n"
FAILING_INIT = "def init():\n    raise RuntimeError('no model today')\n\n\ndef run(data):\n    return data\n"
SCORE = b'"x"'


def _shared(tmp_path: Path, name: str, port: int, script: str, take_over: bool = False) -> tuple[Server, Path]:
    """A server of ``script`` on ``port`` with reuse_port (``take_over``: replacing the one there), and the status
    file it writes."""
    (tmp_path / f"{name}.py").write_text(script)
    status = tmp_path / f"{name}.status.json"
    config = ServerConfig(entry_script=str(tmp_path / f"{name}.py"), app_root=str(tmp_path), port=port,
                          reuse_port=True, status_file=str(status))  # fmt: skip
    (tmp_path / f"{name}.json").write_text(config.to_json())
    command = [sys.executable, "-m", "mldeploy.scoring", str(tmp_path / f"{name}.json")]
    environment = {**os.environ, TAKE_OVER_ENV: "1"} if take_over else dict(os.environ)
    return Server(command, port, tmp_path, environment, tmp_path / f"{name}.log"), status


def test_a_listener_that_closes_resets_its_queue_unless_the_other_one_steers_connections_to_itself() -> None:
    """Why a server taking a port over steers new connections to itself (scoring/reuseport.py)."""
    queued, resets = resets_on_close(100, steering=False)
    assert queued > 0 and resets == queued, "the kernel spreads connections over both and resets the closed one's"
    assert resets_on_close(100, steering=True) == (0, 0)


def _ready(status: Path) -> bool:
    return status.exists() and json.loads(status.read_text())["state"] == "ready"


@pytest.mark.slow
def test_a_server_takes_a_shared_port_over_and_no_request_fails(tmp_path: Path) -> None:
    port = free_port()
    old, _ = _shared(tmp_path, "old", port, SLOW_START.format(seconds=0, name="old"))
    old.wait_healthy()
    servers = [old]
    try:
        with LoopingClient(port, SCORE) as client:
            client.wait_for(50)
            new, status = _shared(tmp_path, "new", port, SLOW_START.format(seconds=1, name="new"), take_over=True)
            servers.append(new)
            while not _ready(status):
                assert new.process.poll() is None, new.log()
                client.wait_for(1)
            os.kill(old.process.pid, signal.SIGTERM)
            assert old.wait_exit() == 0
            client.wait_for(50)
    finally:
        for server in servers:
            server.stop()
    assert client.failures == Counter(), old.log()
    assert client.retried == 0, "no 503: the new server listened only once ready"
    assert client.last == b'"new"' and "every new connection comes here now" in new.log()


def test_a_server_whose_init_fails_never_takes_the_port(tmp_path: Path) -> None:
    port = free_port()
    old, _ = _shared(tmp_path, "old", port, SLOW_START.format(seconds=0, name="old"))
    old.wait_healthy()
    try:
        with LoopingClient(port, SCORE) as client:
            failing, _ = _shared(tmp_path, "failing", port, FAILING_INIT, take_over=True)
            assert failing.wait_exit() == 3
            client.wait_for(20)
    finally:
        old.stop()
    assert client.failures == Counter() and set(client.answers) == {b'"old"'} and client.retried == 0
    assert "Listening;" not in failing.log() and "no model today" in failing.log()


def test_servers_without_reuse_port_never_share_a_port(tmp_path: Path) -> None:
    """A plain `mldeploy serve` on the port of a server that shares it, the other way round, and a server that
    shares its port but does not replace the one there: all refused."""
    (tmp_path / "echo.py").write_text(SLOW_START.format(seconds=0, name="echo"))
    shared, _ = _shared(tmp_path, "shared", free_port(), SLOW_START.format(seconds=0, name="shared"))
    port = free_port()
    plain = Server([sys.executable, "-m", "mldeploy", "serve", str(tmp_path / "echo.py"), "--port", str(port)], port,
                   tmp_path, dict(os.environ), tmp_path / "plain.log")  # fmt: skip
    try:
        shared.wait_healthy()
        plain.wait_healthy()
        for taken in (shared.port, plain.port):
            serve = subprocess.run([sys.executable, "-m", "mldeploy", "serve", str(tmp_path / "echo.py"),
                                    "--port", str(taken)], capture_output=True, text=True, timeout=60)  # fmt: skip
            assert serve.returncode == 2, serve.stderr
            assert f"Cannot listen on 127.0.0.1:{taken}: Address already in use" in serve.stderr
        for taken, take_over in ((plain.port, True), (shared.port, False)):  # not a replacement: never joins
            late, _ = _shared(tmp_path, "late", taken, SLOW_START.format(seconds=0, name="late"), take_over)
            assert late.wait_exit() == 1 and f"Cannot listen on 127.0.0.1:{taken}: Address already in use" in late.log()
    finally:
        shared.stop()
        plain.stop()


def test_a_reuse_port_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(SLOW_START.format(seconds=0, name="echo"))
    config = json.loads(ServerConfig(entry_script=str(tmp_path / "echo.py"), app_root=str(tmp_path)).to_json())
    (tmp_path / "server.json").write_text(json.dumps({**config, "reuse_port": "yes"}))
    run = subprocess.run([sys.executable, "-m", "mldeploy.scoring", str(tmp_path / "server.json")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and f"reuse_port in {tmp_path / 'server.json'} is 'yes'" in run.stderr
