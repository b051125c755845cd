"""The benchmark's report as markdown: the setup, raw numbers per server, and ratios ours/reference."""

import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

from scenarios import Comparison, Measurement

RAW_COLUMNS = (
    "script",
    "workers",
    "server",
    "req/s",
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
    "p50 (lower is better)",
    "p99 (lower is better)",
    "RSS/worker (lower is better)",
    "cold start (lower is better)",
    "clean runs",
)
RATIO_METRICS: tuple[Callable[[Measurement], float], ...] = (
    lambda run: run.load.requests_per_s,
    lambda run: run.load.p50_ms,
    lambda run: run.load.p99_ms,
    lambda run: run.memory.per_worker_mib,
    lambda run: run.cold_start_s,
)


def machine() -> str:
    return f"{len(os.sched_getaffinity(0))} CPUs, {_cpu_model()}, Linux {platform.release()}"


def render(setup: Sequence[str], comparisons: Sequence[Comparison]) -> str:
    lines = ["# mldeploy vs azmlinfsrv", "", *(f"- {line}" for line in setup), ""]
    lines += ["## Raw numbers", "", *_table(RAW_COLUMNS, _raw_rows(comparisons)), ""]
    lines += ["## Ratios ours / reference", "", *_table(RATIO_COLUMNS, _ratio_rows(comparisons)), ""]
    return "\n".join(lines)


def _raw_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    rows = []
    for comparison in comparisons:
        for name, run in (("ours", comparison.ours), ("reference", comparison.reference)):
            load, memory = run.load, run.memory
            rows.append(
                [
                    comparison.scenario.script,
                    str(comparison.scenario.workers),
                    name,
                    f"{load.requests_per_s:.0f}",
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
