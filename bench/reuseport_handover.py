"""A port handed from one scoring server to the next, as a Docker update does:
``.venv/bin/python bench/reuseport_handover.py [--rounds 10] [--connections 100]``.

1. The kernel alone: two SO_REUSEPORT listeners on one port, ``--connections`` connections made while neither
   accepts, then the first listener closed: how many of its queued connections are reset, without and with the
   second listener steering new connections to itself (scoring/reuseport.py).
2. Two real servers (``python -m mldeploy.scoring``), ``--rounds`` times: A serves while two clients loop (a new
   connection per request, 503 retried); B starts on the same port and reports ready; A gets SIGTERM and exits.
   Failed requests, in three ways of doing it: SO_REUSEPORT alone (A closes its listener at once), A emptying
   its accept queue first but B not steering, and both (what the servers do).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.support.handover import LoopingClient, resets_on_close
from tests.support.servers import free_port

from mldeploy.scoring.config import ServerConfig
from mldeploy.scoring.reuseport import TAKE_OVER_ENV

# run in the server's process before it starts: the parts of the handover this measurement turns off
STEERING_OFF = """\
import mldeploy.scoring.reuseport as r
def off(*args): raise OSError("off, to measure")
r.steer_here = off
"""
CLOSE_AT_ONCE = """\
import mldeploy.scoring.http as h
async def close(self, server): server.close()
h.HttpServer._hand_over = close
"""
WAYS = {
    "SO_REUSEPORT alone": STEERING_OFF + CLOSE_AT_ONCE,
    "queue emptied, no steering": STEERING_OFF,
    "queue emptied and steering": "",
}
SCRIPT = "def init():\n    pass\n\n\ndef run(data):\n    return {name!r}\n"


def start_server(work: Path, name: str, port: int, patch: str, take_over: bool) -> tuple[subprocess.Popen[bytes], Path]:
    (work / f"{name}.py").write_text(SCRIPT.format(name=name))
    status = work / f"{name}.status.json"
    status.unlink(missing_ok=True)
    config = ServerConfig(entry_script=str(work / f"{name}.py"), app_root=str(work), port=port, reuse_port=True,
                          status_file=str(status))  # fmt: skip
    (work / f"{name}.json").write_text(config.to_json())
    code = patch + f"import sys\nsys.argv = ['mldeploy.scoring', {str(work / f'{name}.json')!r}]\n"
    code += "from mldeploy.scoring.__main__ import main\nmain()\n"
    log = open(work / f"{name}.log", "ab")  # noqa: SIM115 - the server's, closed when it exits
    environment = {**os.environ, TAKE_OVER_ENV: "1" if take_over else "0"}
    return subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT, env=environment), status


def wait_ready(status: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while '"ready"' not in (status.read_text() if status.exists() else ""):
        assert process.poll() is None and time.monotonic() < deadline, f"server did not start ({status})"
        time.sleep(0.01)


def handover(work: Path, patch: str, client_threads: int) -> tuple[int, Counter[str], float]:
    """One handover: (requests sent from B's start to A's exit, failures, seconds A took to stop)."""
    port = free_port()
    first, first_status = start_server(work, "A", port, patch, take_over=False)
    wait_ready(first_status, first)
    body = json.dumps({"data": [1]}).encode()
    with LoopingClient(port, body, threads=client_threads) as client:
        client.wait_for(50)
        before = client.sent
        second, second_status = start_server(work, "B", port, patch, take_over=True)
        wait_ready(second_status, second)
        stopping = time.monotonic()
        os.kill(first.pid, signal.SIGTERM)
        assert first.wait(30) == 0
        stopped = time.monotonic() - stopping
        sent = client.sent - before
        client.wait_for(50)
    second.send_signal(signal.SIGTERM)
    second.wait(30)
    assert client.last == b'"B"', client.last
    return sent, client.failures, stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="handovers per way (default 10)")
    parser.add_argument("--connections", type=int, default=100, help="queued connections in part 1 (default 100)")
    parser.add_argument("--clients", type=int, default=2, help="looping clients in part 2 (default 2)")
    arguments = parser.parse_args()
    for steering in (False, True):
        queued, resets = resets_on_close(arguments.connections, steering)
        print(f"kernel, steering {'on' if steering else 'off'}: {queued} of {arguments.connections} connections "
              f"queued on the first listener when it closed, {resets} reset")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="mldeploy-handover-") as folder:
        for way, patch in WAYS.items():
            sent, failures, stops = 0, Counter[str](), []
            for _ in range(arguments.rounds):
                round_sent, round_failures, stopped = handover(Path(folder), patch, arguments.clients)
                sent, stops = sent + round_sent, [*stops, stopped]
                failures.update(round_failures)
            print(f"servers, {way}: {arguments.rounds} handovers, {sent} requests sent during them, "
                  f"{sum(failures.values())} failed {dict(failures)}; the old server stopped in "
                  f"{min(stops):.2f}-{max(stops):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
