"""Reliability under time and faults: ``.venv/bin/python bench/soak.py [--seconds 1800] [--kill-seconds 60]``.

1. Soak: our server (2 workers, tests/fixtures/scripts/soak.py) at about 70 % of the capacity measured first,
   1 request in 1,000 making run() raise and 1 in 10,000 ending its worker, in windows of 30 s: per window
   req/s, p50/p99 and the status codes; between windows the front's and the workers' RSS and the front's open
   files. Expected: only 200, 500 and 502; no growth of RSS or open files; a steady p99.
2. Kills: a random worker SIGKILLed every 2 s under the same load: 502s per kill, and how long the pool takes
   to be whole again (workers ready on /metrics).
Prints a markdown report and, with --json PATH, writes the figures (the test suite's 2-minute run reads them).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.fixtures.models import build_app_root, model_dir_for
from tests.support.servers import Server, start_ours

from procs import rss_of_tree_mib, worker_pids
from wrk import parse_report

WORKERS = 2
WINDOW_S = 30
SETTLE_MAX_S = 5.0  # the longest the front's open files are waited for to settle after a wrk run
DELAY_MS = 2  # wrk waits this long before each request of a connection: the rate is set by the connection count
BODY = '{"data": [[1,2,3,4,5,6,7,8,9,10]]}'
LUA = """
statuses = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function delay() return %(delay)d end
function request()
  local draw = math.random(10000)
  local body = '%(body)s'
  if draw == 1 then body = "die" elseif draw <= 11 then body = "raise" end
  return wrk.format("POST", nil, nil, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, count in pairs(counted) do io.write(string.format("STATUS %%d %%d\\n", status, count)) end
  end
end
"""


def wrk(url: str, script: Path, seconds: float, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = parse_report(report)
    statuses: dict[str, int] = {}
    for line in report.splitlines():
        if line.startswith("STATUS "):
            _, status, count = line.split()
            statuses[status] = statuses.get(status, 0) + int(count)
    return {"req_s": result.requests_per_s, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
            "socket_errors": result.socket_errors, "statuses": statuses}  # fmt: skip


def open_files(pid: int) -> int:
    """The front's open files once the connections of the wrk run that just ended are closed: read until the count
    holds still for 0.1 s (a loaded machine may leave the front a few turns of its loop behind wrk's exit)."""
    counts = [len(os.listdir(f"/proc/{pid}/fd"))]
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline and (len(counts) < 3 or len(set(counts[-3:])) > 1):
        time.sleep(0.05)
        counts.append(len(os.listdir(f"/proc/{pid}/fd")))
    return counts[-1]


def resources(server: Server) -> dict:
    pid = server.process.pid
    workers = worker_pids(pid, "mldeploy.scoring.worker")
    front = rss_of_tree_mib(pid) - sum(rss_of_tree_mib(worker) for worker in workers)
    return {"front_rss_mib": round(front, 1), "workers_rss_mib": round(sum(map(rss_of_tree_mib, workers)), 1),
            "front_open_files": open_files(pid), "workers": len(workers)}  # fmt: skip


def workers_ready(server: Server) -> int:
    import httpx

    text = httpx.get(server.url + "/metrics", timeout=5).text
    line = next(line for line in text.splitlines() if line.startswith("mldeploy_workers_ready "))
    return int(float(line.split()[1]))


def kill_workers(server: Server, seconds: float, every_s: float, log: list[dict]) -> None:
    """SIGKILL a random worker every ``every_s`` and time how long until every worker is ready again."""
    end = time.monotonic() + seconds
    while time.monotonic() + every_s < end:
        time.sleep(every_s)
        victim = random.choice(worker_pids(server.process.pid, "mldeploy.scoring.worker"))
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        while workers_ready(server) >= WORKERS and time.monotonic() - killed_at < 1:
            time.sleep(0.005)  # until the front has seen the death
        while workers_ready(server) < WORKERS:
            time.sleep(0.02)
        log.append({"pid": victim, "whole_again_s": round(time.monotonic() - killed_at, 3)})


def soak(seconds: float, kill_seconds: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix="mldeploy-soak-"))
    (work / "logs").mkdir()
    server = start_ours("soak.py", build_app_root(work / "app"), work / "logs", model_dir=model_dir_for(1),
                        workers=WORKERS, args=["--max-request-wait-ms", "5000"])  # fmt: skip
    try:
        server.wait_healthy()
        url = server.url + "/score"
        full = work / "full.lua"
        full.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n')
        capacity = wrk(url, full, 3, 32)["req_s"]
        script = work / "soak.lua"
        script.write_text(LUA % {"delay": DELAY_MS, "body": BODY})
        guess = max(1, round(0.7 * capacity * DELAY_MS / 1000))  # each connection also waits for its answers:
        reached = wrk(url, script, 3, guess)["req_s"]  # scale the count by what the guess reached
        connections = max(1, round(guess * 0.7 * capacity / reached))
        windows = []
        before = resources(server)
        for _ in range(max(1, round(seconds / WINDOW_S))):
            window = wrk(url, script, min(WINDOW_S, seconds), connections)
            window.update(resources(server))
            windows.append(window)
        kills: list[dict] = []
        killing = threading.Thread(target=kill_workers, args=(server, kill_seconds, 2.0, kills))
        killing.start()
        under_kills = wrk(url, script, kill_seconds, connections)
        killing.join()
        return {"capacity_req_s": capacity, "connections": connections, "before": before, "windows": windows,
                "kills": kills, "under_kills": under_kills, "server_alive": server.process.poll() is None,
                "log": str(server.log_path)}  # fmt: skip
    finally:
        server.stop()


def report(figures: dict) -> str:
    columns = ("window", "req/s", "p50 ms", "p99 ms", "statuses", "socket errors", "front RSS MiB",
               "workers RSS MiB", "front open files")  # fmt: skip
    mean = sum(window["req_s"] for window in figures["windows"]) / len(figures["windows"])
    lines = [f"Capacity (full speed, 3 s): {figures['capacity_req_s']:.0f} req/s; soak at {mean:.0f} req/s "
             f"({mean / figures['capacity_req_s']:.0%}) with {figures['connections']} connections each waiting "
             f"{DELAY_MS} ms between requests.", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]  # fmt: skip
    before = figures["before"]
    lines.append(f"| start | | | | | | {before['front_rss_mib']} | {before['workers_rss_mib']} | "
                 f"{before['front_open_files']} |")  # fmt: skip
    for number, window in enumerate(figures["windows"], 1):
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(window["statuses"].items()))
        lines.append(f"| {number} | {window['req_s']:.0f} | {window['p50_ms']:.2f} | {window['p99_ms']:.2f} | "
                     f"{statuses} | {window['socket_errors']} | {window['front_rss_mib']} | "
                     f"{window['workers_rss_mib']} | {window['front_open_files']} |")  # fmt: skip
    kills, under = figures["kills"], figures["under_kills"]
    whole = sorted(kill["whole_again_s"] for kill in kills) or [0.0]
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(under["statuses"].items()))
    lines += ["", f"Kills: {len(kills)} workers SIGKILLed every 2 s under the same load; statuses {statuses}; "
              f"socket errors {under['socket_errors']}; pool whole again after {whole[len(whole) // 2]:.2f} s "
              f"(median), {whole[-1]:.2f} s (max)."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800, help="soak length (default 30 min)")
    parser.add_argument("--kill-seconds", type=float, default=60, help="length of the kill phase (default 60 s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    figures = soak(options.seconds, options.kill_seconds)
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))
    print(report(figures))


if __name__ == "__main__":
    main()
