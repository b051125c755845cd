"""SIGTERM under load: ``.venv/bin/python bench/drain.py [--clients 8] [--workers 2] [--run-ms 200]``.

Two runs of our server on tests/fixtures/scripts/sleepy.py (run() sleeps as long as the body says):

1. load: --clients connections (keep-alive) each sending requests of --run-ms back to back, the ones in line
   allowed to wait (--max-request-wait-ms, 30000 by default, so that they are in flight rather than 503), then
   SIGTERM;
2. stuck: the same with a short scoring timeout (--stuck-timeout-ms), plus one request whose run() never
   returns, sent just before SIGTERM: the grace must cover its scoring timeout (a 504), and the exit still be 0.

Recorded per run: the seconds from SIGTERM to the exit (and to the server's "Stopping" line: the signal is
handled between two turns of its event loop), the exit code, the requests in flight at SIGTERM (sent, not yet
answered) and what they got, what the clients' requests sent after SIGTERM got, and what new connections
opened after SIGTERM (a health check on each, one every 10 ms until the exit) got. And the limits as the code
computes them: the server's shutdown grace (ServerConfig.shutdown_grace_s) and the time Docker (stop timeout) and
Kubernetes (terminationGracePeriodSeconds) give it before SIGKILL (container_policy.stop_timeout_s).
Prints a markdown report; --json PATH also writes the figures.
"""

import argparse
import datetime
import http.client
import json
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.support.servers import Server, start_ours

from mldeploy.scoring.config import DEFAULT_MAX_REQUEST_WAIT_MS, DEFAULT_SCORING_TIMEOUT_MS, ServerConfig
from mldeploy.targets.container_policy import stop_timeout_s

PROBE_EVERY_S = 0.01
PROBE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"  # health: answered at once, not queued behind run()
EXIT_WAIT_S = 120.0


@dataclass
class Outcome:
    """One request: when it was sent and ended (seconds on the monotonic clock) and what it got."""

    sent: float
    ended: float
    result: str  # a status code, or: refused (no listener), closed (no answer), reset


def _client(port: int, body: str, outcomes: list[Outcome], stop: threading.Event, once: bool = False) -> None:
    """Send requests back to back on one keep-alive connection (a new one when the server closes it) until the
    server refuses a connection or ``stop`` is set."""
    connection: http.client.HTTPConnection | None = None
    while not stop.is_set():
        sent = time.monotonic()
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=EXIT_WAIT_S)
                connection.connect()
            connection.request("POST", "/score", body=body)
            answer = connection.getresponse()
            answer.read()
            result = str(answer.status)
            if answer.will_close:
                connection.close()
                connection = None
        except ConnectionRefusedError:
            result = "refused"
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError):
            result, connection = "closed", None
        except OSError:
            result, connection = "reset", None
        outcomes.append(Outcome(sent, time.monotonic(), result))
        if once or result == "refused":
            return


def _probe(port: int) -> str:
    """What a new connection gets: refused, closed, reset, or the status of a health check sent on it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(PROBE)
            head = sock.recv(64)
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "reset"
    return head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "closed"


def _probe_until_exit(server: Server, probes: list[Outcome]) -> None:
    while server.process.poll() is None:
        started = time.monotonic()
        result = _probe(server.port)
        if server.process.poll() is None:  # only what the server itself answered while it was stopping
            probes.append(Outcome(started, time.monotonic(), result))
        time.sleep(PROBE_EVERY_S)


def _count(outcomes: list[Outcome]) -> dict[str, int]:
    return dict(sorted(Counter(outcome.result for outcome in outcomes).items()))


def _logged_at(line: str) -> float:
    """The wall-clock time of a server log line (``2026-12-06 08:47:22,982 I ...``, local time)."""
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def drain(work: Path, clients: int, workers: int, run_ms: int, wait_ms: int, timeout_ms: int, load_s: float,
          stuck: bool) -> dict:  # fmt: skip
    """One run: load, SIGTERM, and what every request and new connection got."""
    args = ["--scoring-timeout-ms", str(timeout_ms), "--max-request-wait-ms", str(wait_ms)]
    server = start_ours("sleepy.py", work, work, workers=workers, args=args)
    try:
        server.wait_healthy()
        stop, outcomes, probes = threading.Event(), [], []
        body = f"{run_ms / 1000:g}"
        threads = [threading.Thread(target=_client, args=(server.port, body, outcomes, stop)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(load_s)
        stuck_outcomes: list[Outcome] = []
        if stuck:
            stuck_client = threading.Thread(target=_client, args=(server.port, "forever", stuck_outcomes, stop, True))
            stuck_client.start()
            threads.append(stuck_client)
            time.sleep(min(0.3, timeout_ms / 4000))
        prober = threading.Thread(target=_probe_until_exit, args=(server, probes))
        terminated, terminated_wall = time.monotonic(), time.time()
        server.process.send_signal(signal.SIGTERM)
        prober.start()
        code = server.wait_exit(EXIT_WAIT_S)
        exited = time.monotonic()
        stop.set()
        for thread in [*threads, prober]:
            thread.join()
    finally:
        server.stop()
    in_flight = [outcome for outcome in outcomes if outcome.sent < terminated < outcome.ended]
    after = [outcome for outcome in outcomes if outcome.sent >= terminated]
    config = ServerConfig(entry_script="score.py", app_root=".", scoring_timeout_ms=timeout_ms,
                          max_request_wait_ms=wait_ms)  # fmt: skip
    log = server.log()
    stopping = [line for line in log.splitlines() if "mldeploy.server - Stopping" in line]
    handled = terminated + (_logged_at(stopping[0]) - terminated_wall if stopping else 0.0)
    first_refused = min((probe.sent for probe in probes if probe.result == "refused"), default=exited)
    return {
        "clients": clients, "workers": workers, "run_ms": run_ms, "max_request_wait_ms": wait_ms,
        "scoring_timeout_ms": timeout_ms, "grace_s": config.shutdown_grace_s, "stop_timeout_s": stop_timeout_s(config),
        "exit_code": code, "sigterm_to_exit_s": round(exited - terminated, 3),
        "sigterm_to_stopping_s": round(handled - terminated, 3),
        "before_sigterm": _count([outcome for outcome in outcomes if outcome.ended <= terminated]),
        "in_flight": _count(in_flight),
        "last_in_flight_answer_s": round(max((o.ended for o in in_flight), default=terminated) - terminated, 3),
        "sent_after_sigterm": _count(after),
        "stuck": [{**asdict(o), "after_sigterm_s": round(o.ended - terminated, 3)} for o in stuck_outcomes],
        "new_connections_after_sigterm": _count(probes),
        "first_refused_s": round(first_refused - terminated, 3),
        "answered_after_first_refused": sum(p.result != "refused" for p in probes if p.sent > first_refused),
        "server_said": stopping,
        "traceback_in_log": "Traceback" in log,
    }  # fmt: skip


def limits_table(settings: list[tuple[int, int]]) -> list[dict]:
    """For (queue wait, scoring timeout) pairs: the longest a request admitted before SIGTERM may take (it waits
    in line, then runs), the server's grace and the supervisors' stop timeout, as the code computes them."""
    rows = []
    for wait_ms, timeout_ms in sorted(set(settings)):
        config = ServerConfig(entry_script="score.py", app_root=".", scoring_timeout_ms=timeout_ms,
                              max_request_wait_ms=wait_ms)  # fmt: skip
        rows.append({"max_request_wait_s": wait_ms / 1000, "scoring_timeout_s": timeout_ms / 1000,
                     "longest_admitted_s": (wait_ms + timeout_ms) / 1000, "grace_s": config.shutdown_grace_s,
                     "stop_timeout_s": stop_timeout_s(config)})  # fmt: skip
    return rows


def _counts(counted: dict[str, int]) -> str:
    return ", ".join(f"{result}: {count}" for result, count in counted.items()) or "none"


def report(figures: dict) -> str:
    columns = ("run", "clients x run()", "queue wait / scoring timeout / grace / stop timeout", "SIGTERM -> Stopping",
               "SIGTERM -> exit", "exit code", "in flight at SIGTERM", "last of them answered",
               "sent after SIGTERM (kept connections)", "new connections after SIGTERM")  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, run in figures["runs"].items():
        stuck = "".join(f" + 1 stuck: {o['result']} at {o['after_sigterm_s']:.2f} s" for o in run["stuck"])
        lines.append(
            f"| {name} | {run['clients']} x {run['run_ms']} ms, {run['workers']} workers | "
            f"{run['max_request_wait_ms'] / 1000:g} s / {run['scoring_timeout_ms'] / 1000:g} s / "
            f"{run['grace_s']:g} s / {run['stop_timeout_s']} s | {run['sigterm_to_stopping_s']} s | "
            f"{run['sigterm_to_exit_s']:.2f} s | {run['exit_code']} | {_counts(run['in_flight'])}{stuck} | "
            f"{run['last_in_flight_answer_s']:.2f} s | {_counts(run['sent_after_sigterm'])} | "
            f"{_counts(run['new_connections_after_sigterm'])} (first refused at {run['first_refused_s']:.3f} s; "
            f"answered after it: {run['answered_after_first_refused']}) |"
        )
    lines += ["", "| queue wait | scoring timeout | longest admitted request (wait + run) | server's grace "
              "(ServerConfig.shutdown_grace_s) | Docker stop timeout = Kubernetes terminationGracePeriodSeconds "
              "(container_policy.stop_timeout_s) |", "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {row['max_request_wait_s']:g} s | {row['scoring_timeout_s']:g} s | {row['longest_admitted_s']:g} s | "
              f"{row['grace_s']:g} s | {row['stop_timeout_s']} s |" for row in figures["limits"]]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="connections sending requests (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--run-ms", type=int, default=200, help="how long each run() takes (default 200)")
    parser.add_argument("--load-s", type=float, default=2.0, help="load before SIGTERM (default 2 s)")
    parser.add_argument("--max-request-wait-ms", type=int, default=30_000, help="queue wait (default 30000)")
    parser.add_argument("--timeout-ms", type=int, default=DEFAULT_SCORING_TIMEOUT_MS,
                        help="scoring timeout of the load run (default 60000)")  # fmt: skip
    parser.add_argument("--stuck-timeout-ms", type=int, default=2000, help="scoring timeout of the stuck run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mldeploy-drain-"))
    shape = (options.clients, options.workers, options.run_ms, options.max_request_wait_ms)
    runs = {
        "load": drain(work, *shape, options.timeout_ms, options.load_s, stuck=False),
        "stuck": drain(work, *shape, options.stuck_timeout_ms, options.load_s, stuck=True),
    }
    wait = options.max_request_wait_ms
    pairs = [(wait, options.stuck_timeout_ms), (wait, options.timeout_ms), (DEFAULT_MAX_REQUEST_WAIT_MS,
             DEFAULT_SCORING_TIMEOUT_MS)]  # fmt: skip
    figures = {"runs": runs, "limits": limits_table(pairs)}
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))
    print(report(figures))
    print(f"\nLogs in {work}.")


if __name__ == "__main__":
    main()
