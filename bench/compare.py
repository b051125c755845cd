"""Benchmark ours (``mldeploy serve``) against the reference (``azmlinfsrv``) on the same score.py and load.

Run through ``bash bench/run.sh [options]``; see bench/README.md.
"""

import argparse
import dataclasses
import datetime
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.*

from tests.fixtures.models import build_app_root, model_dir_for
from tests.support.reference import reference_venv
from tests.support.servers import Server

from contenders import Contender, bare_hop, bare_http, bare_parser, contenders, ours_as_python, reference_version
from mldeploy.scoring import compiled
from peers import PEERS, Peer, peer_bin
from procs import Memory, cpu_time_of, descendants, memory_of, rss_of_tree_mib, worker_pids
from report import machine, render
from scenarios import LIMIT_SCENARIO, SCENARIOS, Comparison, Measurement, Scenario
from wrk import WrkResult, run_wrk, write_post_script

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.md"
WARM_UP_S = 1.0
QUICK_DURATION_S = 3.0


@dataclass(frozen=True)
class Load:
    duration_s: float
    connections: int


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DURATION_S:g} s runs, for a smoke test")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report")
    return parser.parse_args(argv)


def measure(contender: Contender, scenario: Scenario, post_script: Path, load: Load) -> Measurement:
    """Start the server, time its cold start, warm it up, read its memory, load it, stop it."""
    server = contender.start(scenario.script, scenario.workers)
    try:
        cold_start_s = server.wait_healthy()
        url = server.url + "/score"
        warm_up = run_wrk(url, post_script, WARM_UP_S, load.connections)
        memory = memory_of(server.process.pid, contender.worker_marker, scenario.workers)
        before = cpu_time_of(server.process.pid, memory.worker_pids)
        result = run_wrk(url, post_script, load.duration_s, load.connections)
        cpu = cpu_time_of(server.process.pid, memory.worker_pids) - before
        replaced = worker_pids(server.process.pid, contender.worker_marker) != memory.worker_pids
        problems = _problems({"warm-up": warm_up, "measured run": result}, server, replaced)
    finally:
        server.stop()
    return Measurement(result, memory, cold_start_s, problems, cpu)


def measure_peer(peer: Peer, work_dir: Path, model_file: Path, log_dir: Path, load: Load) -> Measurement | str:
    """A peer under the same load (its own body for the same rows); the reason instead when it cannot run here."""
    try:
        server = peer.start(peer_bin(peer), work_dir, model_file, log_dir)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        return str(error)
    try:
        try:
            cold_start_s = server.wait_healthy(120.0, peer.health)
        except RuntimeError as error:
            return f"did not become ready: {str(error).splitlines()[0]} (log: {server.log_path})"
        url = server.url + peer.path
        post_script = write_post_script(work_dir / f"post-{peer.requirements[0]}.lua", peer.body)
        warm_up = run_wrk(url, post_script, WARM_UP_S, load.connections)
        workers = descendants(server.process.pid)
        memory = Memory(rss_of_tree_mib(server.process.pid), 0.0, workers)
        before = cpu_time_of(server.process.pid, workers)
        result = run_wrk(url, post_script, load.duration_s, load.connections)
        cpu = cpu_time_of(server.process.pid, workers) - before
        problems = _problems({"warm-up": warm_up, "measured run": result}, server, False)
    finally:
        server.stop()
    run = Measurement(result, memory, cold_start_s, problems, cpu)
    print(f"{peer.name}: {result.requests_per_s:.0f} req/s, {run.requests_per_cpu_s:.0f} req/CPU-s", file=sys.stderr)
    return run


def _problems(runs: dict[str, WrkResult], server: Server, workers_replaced: bool) -> tuple[str, ...]:
    problems = [
        f"{name}: {run.non_2xx} non-2xx, {run.socket_errors} socket errors" for name, run in runs.items() if run.failed
    ]
    if workers_replaced:
        problems.append("worker processes replaced during the measured run")
    if server.process.poll() is not None:
        problems.append(f"server exited with {server.process.returncode}")
    if problems:
        problems.append(f"log: {server.log_path}")
    return tuple(problems)


def compare(scenario: Scenario, pair: tuple[Contender, Contender], work_dir: Path, load: Load) -> Comparison:
    """Ours, then the reference, on one scenario."""
    post_script = write_post_script(work_dir / f"post-{Path(scenario.script).stem}.lua", scenario.body)
    ours, reference = (_measure_logged(contender, scenario, post_script, load) for contender in pair)
    return Comparison(scenario, ours, reference)


def _measure_logged(contender: Contender, scenario: Scenario, post_script: Path, load: Load) -> Measurement:
    run = measure(contender, scenario, post_script, load)
    problems = f" PROBLEMS: {'; '.join(run.problems)}" if run.problems else ""
    print(
        f"{scenario.script} x{scenario.workers} {contender.name}: {run.load.requests_per_s:.0f} req/s,"
        f" {run.requests_per_cpu_s:.0f} req/CPU-s, p50 {run.load.p50_ms:.2f} ms, p99 {run.load.p99_ms:.2f} ms,"
        f" {run.memory.per_worker_mib:.1f} MiB/worker,"
        f" cold start {run.cold_start_s:.2f} s{problems}",
        file=sys.stderr,
        flush=True,
    )
    return run


def setup_lines(azmlinfsrv: Path, load: Load) -> list[str]:
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" [", 1)[0]
    return [
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {machine()}",
        f"Versions: mldeploy {version('mldeploy')}, azmlinfsrv {reference_version(azmlinfsrv)},"
        f" Python {sys.version.split()[0]}, {wrk_version}",
        f"Our front: {_our_front()}",
        f"Load: `wrk -t1 -c{load.connections} --latency`, POST /score with a JSON body, {load.duration_s:g} s per run"
        f" after a {WARM_UP_S:g} s warm-up; ours and the reference alternate per scenario",
        "RSS/worker: summed VmRSS of the worker processes / worker count, read after the warm-up;"
        " front: the process the workers are children of (ours: the HTTP front, reference: the gunicorn master)",
        "Cold start: seconds from process start to the first 200 on GET /",
        "req/CPU-s: requests answered / CPU seconds (user + system) of the front and its workers over the measured"
        " run, from /proc; it does not depend on the machine's core count. CPU us/req: the same, split",
    ]


def _our_front() -> str:
    if os.environ.get(compiled.PURE_ENV) == "1":
        return f"Python ({compiled.PURE_ENV}=1)"
    if compiled.build_folder().is_dir():
        return "compiled with mypyc (`python -m mldeploy.scoring.compiled` built it for these sources)"
    return "Python (no build for these sources: `python -m mldeploy.scoring.compiled` makes one)"


def run_benchmark(
    load: Load, work_dir: Path, log_dir: Path
) -> tuple[list[str], list[Comparison], dict[str, Measurement], dict[str, Measurement | str]]:
    azmlinfsrv = reference_venv()
    app_root = build_app_root(work_dir / "app")
    pair = contenders(azmlinfsrv, app_root, log_dir)
    comparisons = [compare(scenario, pair, work_dir, load) for scenario in SCENARIOS]
    post_script = write_post_script(work_dir / "post-limit.lua", LIMIT_SCENARIO.body)
    limit_servers = (
        (bare_parser(log_dir), 0),
        (bare_hop(log_dir), 1),
        (bare_http(log_dir), 0),
        (ours_as_python(app_root, log_dir), 1),
    )
    limits = {
        contender.name: _measure_logged(
            contender, dataclasses.replace(LIMIT_SCENARIO, workers=workers), post_script, load
        )
        for contender, workers in limit_servers
    }
    model_file = app_root / model_dir_for(1) / "model.pkl"
    peers = {peer.name: measure_peer(peer, work_dir, model_file, log_dir, load) for peer in PEERS}
    return setup_lines(azmlinfsrv, load), comparisons, limits, peers


def _log_dir(output: Path) -> Path:
    """Server logs next to the report, emptied at the start of each run."""
    log_dir = output.parent / f"{output.stem}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    return log_dir


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # stop the servers as on Ctrl-C
    load = Load(QUICK_DURATION_S if options.quick else options.duration, options.connections)
    log_dir = _log_dir(options.output)
    with tempfile.TemporaryDirectory(prefix="mldeploy-bench-") as work_dir:
        setup, comparisons, limits, peers = run_benchmark(load, Path(work_dir), log_dir)
    report = render(setup, comparisons, limits, peers)
    options.output.write_text(report)
    print(report)
    print(f"Written to {options.output}; server logs in {log_dir}")
    return 0 if all(comparison.clean for comparison in comparisons) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
