"""The parent of a local service's scoring server: starts it, then records how it ended (its exit code or the
signal that ended it, and when) in ``exit.json`` beside the service's record, for diagnosis.

Started detached by the local target as ``python -m mldeploy.targets.watcher``, the leader of the service's
process group; it reads what to start as one JSON line on standard input, answers the server's pid (or why it
could not start) as one JSON line on standard output, then waits. Only the standard library: it stays small
beside the server. Its command line names no path, so the server alone is what the service's folder shows.
"""

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

EXIT_FILE = "exit.json"
FILE_MODE = 0o600


def _write(path: str, record: dict[str, Any]) -> None:
    staging = f"{path}.{os.getpid()}.tmp"
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(record, file)
    os.replace(staging, path)


def main() -> None:
    request = json.loads(sys.stdin.readline())
    stop_requested = []
    # the group's stop signals reach the server too: note them (the server's exit then says how it went), and
    # never die of them before the exit is recorded; handlers, not SIG_IGN, so the server gets the defaults
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop, lambda signum, frame: stop_requested.append(signal.Signals(signum).name))
    try:
        with open(request["log"], "ab") as log:
            server = subprocess.Popen(
                request["command"], cwd=request["cwd"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
    except OSError as error:
        print(json.dumps({"error": f"{error.strerror}: {error.filename}"}), flush=True)
        return
    print(json.dumps({"pid": server.pid}), flush=True)
    os.dup2(os.open(os.devnull, os.O_RDWR), sys.stdout.fileno())  # the deployer stops reading
    code = server.wait()
    outcome = {"pid": server.pid, "code": code, "at": time.time(), "stop_signals": stop_requested}
    _write(os.path.join(request["folder"], EXIT_FILE), outcome)


if __name__ == "__main__":
    main()
