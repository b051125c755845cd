"""The benchmark's report as markdown: the setup, raw numbers per server, and ratios ours/reference."""

import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

from scenarios import LIMIT_SCENARIO, PEER_SCENARIO, Comparison, Measurement

RAW_COLUMNS = (
    "script",
    "workers",
    "server",
    "req/s",
    "req/CPU-s",
    "front CPU us/req",
    "workers CPU us/req",
    "p50 ms",
    "p99 ms",
    "non-2xx",
    "socket errors",
    "RSS/worker MiB",
    "front MiB",
    "cold start s",
    "problems",
)
RATIO_COLUMNS = (
    "script",
    "workers",
    "req/s (higher is better)",
    "req/CPU-s (higher is better)",
    "p50 (lower is better)",
    "p99 (lower is better)",
    "RSS/worker (lower is better)",
    "cold start (lower is better)",
    "clean runs",
)
RATIO_METRICS: tuple[Callable[[Measurement], float], ...] = (
    lambda run: run.load.requests_per_s,
    lambda run: run.requests_per_cpu_s,
    lambda run: run.load.p50_ms,
    lambda run: run.load.p99_ms,
    lambda run: run.memory.per_worker_mib,
    lambda run: run.cold_start_s,
)


def machine() -> str:
    return f"{len(os.sched_getaffinity(0))} CPUs, {_cpu_model()}, Linux {platform.release()}"


def render(
    setup: Sequence[str],
    comparisons: Sequence[Comparison],
    limits: dict[str, Measurement],
    peers: dict[str, Measurement | str],
) -> str:
    lines = ["# mldeploy vs azmlinfsrv", "", *(f"- {line}" for line in setup), ""]
    lines += ["## Raw numbers", "", *_table(RAW_COLUMNS, _raw_rows(comparisons)), ""]
    lines += ["## Ratios ours / reference", "", *_table(RATIO_COLUMNS, _ratio_rows(comparisons)), ""]
    lines += ["## The HTTP layer's limit", "", *_limit_lines(limits, comparisons), ""]
    lines += ["## Peers on the same model", "", *_peer_lines(peers, comparisons), ""]
    return "\n".join(lines)


def _peer_lines(peers: dict[str, Measurement | str], comparisons: Sequence[Comparison]) -> list[str]:
    """Each peer's row next to ours and the reference on predict_list.py at 1 worker (the same Ridge model and
    rows); a peer that could not run here is named with the reason."""
    pair = next(comparison for comparison in comparisons if comparison.scenario == PEER_SCENARIO)
    runs: dict[str, Measurement | str] = {"ours (predict_list.py)": pair.ours, "azmlinfsrv": pair.reference, **peers}
    rows = []
    for name, run in runs.items():
        if isinstance(run, str):
            rows.append([name, "-", "-", "-", "-", "-", "-", f"not measured: {run}"])
            continue
        rows.append([name, f"{run.load.requests_per_s:.0f}", f"{run.requests_per_cpu_s:.0f}", f"{run.load.p50_ms:.2f}",
                     f"{run.load.p99_ms:.2f}", f"{run.rss_mib:.0f}",
                     f"{run.cold_start_s:.2f}", "; ".join(run.problems) or "-"])  # fmt: skip
    columns = ("server", "req/s", "req/CPU-s", "p50 ms", "p99 ms", "RSS MiB", "cold start s", "problems")
    return [
        "The same joblib Ridge model on the same two rows, one process serving (MLServer: parallel_workers 0;"
        " BentoML: workers=1), same wrk load; RSS: every process of the server.",
        "",
        *_table(columns, rows),
    ]


def _limit_lines(limits: dict[str, Measurement], comparisons: Sequence[Comparison]) -> list[str]:
    """The bare servers' rows (a constant or echoed answer, no scoring), and how close ours comes on echo.py at 1
    worker."""
    echo = next(comparison.ours for comparison in comparisons if comparison.scenario == LIMIT_SCENARIO)
    rows = []
    for name, limit in limits.items():
        rows.append([name, f"{limit.load.requests_per_s:.0f}", f"{limit.requests_per_cpu_s:.0f}",
                     _cpu_split(limit), f"{limit.load.p50_ms:.2f}", f"{limit.load.p99_ms:.2f}",
                     f"{_ratio(echo.load.requests_per_s, limit.load.requests_per_s)}",
                     f"{_ratio(echo.requests_per_cpu_s, limit.requests_per_cpu_s)}",
                     "; ".join(limit.problems) or "-"])  # fmt: skip
    columns = ("server", "req/s", "req/CPU-s", "CPU us/req", "p50 ms", "p99 ms", "ours echo.py x1: of its req/s",
               "of its req/CPU-s", "problems")  # fmt: skip
    return [
        "The same wrk load and echo.py's body, with nothing of a scoring server: the httptools protocol on uvloop our"
        " front is built on, answering a constant (bench/bare_httptools.py); the same protocol handing each body to"
        " a worker process that echoes it back over a socket pair, the floor of a front + worker design like ours"
        " (bench/bare_hop.py; CPU us/req: front + worker); and an ASGI app under uvicorn + httptools + uvloop,"
        " answering a constant (bench/bare_asgi.py); last, our own server on echo.py with its front run as Python"
        " (MLDEPLOY_PURE_PYTHON=1), to show what compiling the front gains.",
        "",
        *_table(columns, rows),
    ]


def _cpu_split(run: Measurement) -> str:
    """CPU us per request: the front's alone, or the front's + the workers' when it has some."""
    front_us, workers_us = run.cpu_us_per_request()
    return f"{front_us:.0f} + {workers_us:.0f}" if workers_us else f"{front_us:.0f}"


def _raw_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    rows = []
    for comparison in comparisons:
        for name, run in (("ours", comparison.ours), ("reference", comparison.reference)):
            load, memory = run.load, run.memory
            front_us, workers_us = run.cpu_us_per_request()
            rows.append(
                [
                    comparison.scenario.script,
                    str(comparison.scenario.workers),
                    name,
                    f"{load.requests_per_s:.0f}",
                    f"{run.requests_per_cpu_s:.0f}",
                    f"{front_us:.0f}",
                    f"{workers_us:.0f}",
                    f"{load.p50_ms:.2f}",
                    f"{load.p99_ms:.2f}",
                    str(load.non_2xx),
                    str(load.socket_errors),
                    f"{memory.per_worker_mib:.1f}",
                    f"{memory.front_mib:.1f}",
                    f"{run.cold_start_s:.2f}",
                    "; ".join(run.problems) or "-",
                ]
            )
    return rows


def _ratio_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    return [
        [
            comparison.scenario.script,
            str(comparison.scenario.workers),
            *(_ratio(metric(comparison.ours), metric(comparison.reference)) for metric in RATIO_METRICS),
            "yes" if comparison.clean else "**NO: see problems**",
        ]
        for comparison in comparisons
    ]


def _ratio(ours: float, reference: float) -> str:
    return f"{ours / reference:.2f}" if reference else "n/a"


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(columns, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return [line(columns), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU model"
