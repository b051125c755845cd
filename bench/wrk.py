"""Run the load generator ``wrk`` (one thread, POST of a JSON body) and parse its ``--latency`` report."""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def failed(self) -> bool:
        return self.non_2xx > 0 or self.socket_errors > 0


def write_post_script(path: Path, body: str) -> Path:
    """A wrk Lua script that POSTs ``body`` as JSON; a JSON string literal of ASCII text is a valid Lua string."""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, duration_s: float, connections: int) -> WrkResult:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_report(completed.stdout)


def parse_report(report: str) -> WrkResult:
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    return WrkResult(
        requests=int(_required(r"(\d+) requests in", report)),
        requests_per_s=float(_required(r"Requests/sec:\s+([\d.]+)", report)),
        p50_ms=_percentile_ms(report, 50),
        p99_ms=_percentile_ms(report, 99),
        non_2xx=int(_optional(r"Non-2xx or 3xx responses:\s+(\d+)", report)),
        socket_errors=sum(int(count) for count in socket_errors.groups()) if socket_errors else 0,
    )


def _percentile_ms(report: str, percent: int) -> float:
    match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m|h)\s*$", report, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {percent}% latency in the wrk report:\n{report}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def _required(pattern: str, report: str) -> str:
    match = re.search(pattern, report)
    if match is None:
        raise ValueError(f"no match for {pattern!r} in the wrk report:\n{report}")
    return match.group(1)


def _optional(pattern: str, report: str) -> str:
    match = re.search(pattern, report)
    return match.group(1) if match else "0"
