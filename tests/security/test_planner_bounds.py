"""Inputs that never end: every input of the planner is bounded (planning/bounds.py), on the command line (exit 2,
the flag named, before anything is simulated) and on the console's plan page (a form error), so that no plan
runs for hours or grows without end. Values inside the bounds that once crashed the simulation (requests
shorter than its 50 ms step) are planned."""

import subprocess
import sys
from pathlib import Path

import pytest

from mldeploy.console.planner import BadPlanInput, plan
from mldeploy.planning.bounds import MAX_LOAD_POINTS

BASE = ("--target-rps", "5", "--request-time", "1")
ENDLESS = [  # (the flag named in the refusal, the arguments after BASE)
    ("--duration", ("--load", "steady", "--duration", "1e9")),
    ("--duration", ("--load", "steady", "--duration", "inf")),
    ("--target-rps", ("--target-rps", "nan")),
    ("--request-time", ("--request-time", "1e12", "--load", "spike")),
    ("--max-replicas", ("--load", "spike", "--max-replicas", "1000000000")),
    ("--min-replicas", ("--load", "spike", "--min-replicas", "1000000000", "--max-replicas", "1000000000")),
    ("--max-concurrent", ("--max-concurrent", "1000000000000")),
    ("--max-wait-ms", ("--load", "spike", "--max-wait-ms", "1e300")),
    ("--pod-start", ("--load", "spike", "--pod-start", "-inf")),
    ("--refresh", ("--load", "spike", "--refresh", "0")),
]


def _plan(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mldeploy", "plan", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)


@pytest.mark.parametrize(("flag", "extra"), ENDLESS, ids=[" ".join(extra[-2:]) for _, extra in ENDLESS])
def test_an_unbounded_value_is_refused_before_anything_is_simulated(flag: str, extra: tuple[str, ...]) -> None:
    refused = _plan(*BASE, *extra)  # a flag given twice: the last counts; never ending, the deadline fails it
    assert refused.returncode == 2, (refused.stdout[-300:], refused.stderr[-300:])
    assert flag in refused.stderr and "give a" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_load_file_past_the_bounds_is_refused_with_its_line(tmp_path: Path) -> None:
    far = tmp_path / "far.csv"
    far.write_text("seconds,rps\n0,1\n1e9,1\n")
    refused = _plan(*BASE, "--load", str(far))
    assert refused.returncode == 2 and "far.csv, line 3" in refused.stderr and "21,600" in refused.stderr
    endless = tmp_path / "endless.csv"
    endless.write_text("".join(f"{second / 10},1\n" for second in range(MAX_LOAD_POINTS + 1)))
    refused = _plan(*BASE, "--load", str(endless))
    assert refused.returncode == 2 and f"more than {MAX_LOAD_POINTS:,} rows" in refused.stderr
    infinite = tmp_path / "infinite.csv"
    infinite.write_text("0,1\n10,inf\n")
    assert _plan(*BASE, "--load", str(infinite)).returncode == 2


def test_requests_shorter_than_a_simulation_step_are_planned() -> None:
    planned = _plan("--target-rps", "200", "--request-time", "0.01", "--load", "spike", "--duration", "120")
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert "503s overall" in planned.stdout


@pytest.mark.parametrize(
    ("field", "typed", "says"),
    [
        ("duration", "1e9", "Seconds simulated: 1e9 cannot be planned; type a number more than 0 and at most 21,600"),
        ("target_rps", "nan", "Requests per second to serve: nan cannot be planned"),
        ("max_replicas", "1000000000", "Maximum replicas: 1000000000 cannot be planned; type a whole number"),
        ("refresh", "inf", "Autoscaler refresh (s): inf cannot be planned"),
    ],
)
def test_the_console_plan_page_refuses_the_same_values(field: str, typed: str, says: str) -> None:
    with pytest.raises(BadPlanInput) as refused:
        plan({field: typed, "load": "spike"})
    assert str(refused.value).startswith(says)
