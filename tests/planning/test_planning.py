"""The seed's replica formula, the autoscaler simulation, the advice it gives, and `mldeploy plan`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mldeploy.planning.advice import advise
from mldeploy.planning.load import LoadCurve, from_file, preset
from mldeploy.planning.replicas import replicas_needed
from mldeploy.planning.simulator import Scaling, simulate


def from_points(points: list[tuple[float, float]]) -> LoadCurve:
    return LoadCurve(tuple((float(t), float(rps)) for t, rps in points))


def test_the_seeds_example_needs_286_replicas() -> None:
    assert replicas_needed(20, 10, 1, 0.7) == 286
    assert replicas_needed(20, 10, 1, 70) == 286  # v1's percentage
    assert replicas_needed(10, 1, 1, 0.5) == 20  # exact, not 21 from a rounding error
    assert replicas_needed(20, 10, 4, 0.7) == 72
    with pytest.raises(ValueError, match="target utilization"):
        replicas_needed(20, 10, 1, 0)


def test_enough_capacity_rejects_nothing_and_overload_rejects_the_excess() -> None:
    one_replica = Scaling(request_time_s=0.1, min_replicas=1, max_replicas=1)
    assert simulate(preset("steady", 9, 60), one_replica).rejected_fraction == 0
    assert simulate(preset("steady", 15, 60), one_replica).rejected_fraction == pytest.approx(1 / 3, abs=0.02)
    assert simulate(preset("steady", 25, 60), one_replica).rejected_fraction == pytest.approx(0.6, abs=0.02)


def test_a_spike_gets_503s_that_the_advised_minimum_removes() -> None:
    scaling = Scaling(request_time_s=1, max_replicas=100, pod_start_s=30)
    curve = preset("spike", 40, 300)
    advice = advise(curve, scaling)
    assert advice.has_503s and advice.baseline.rejected_fraction > 0.05
    assert advice.min_replicas is not None
    fixed = Scaling(request_time_s=1, max_replicas=100, pod_start_s=30, min_replicas=advice.min_replicas)
    assert simulate(curve, fixed).rejected_fraction <= 0.001
    lower = Scaling(request_time_s=1, max_replicas=100, pod_start_s=30, min_replicas=advice.min_replicas - 1)
    assert simulate(curve, lower).rejected_fraction > 0.001
    assert max(second.ready_replicas for second in advice.baseline.seconds) > 10, "the autoscaler scaled up"


def test_a_lower_target_utilization_absorbs_a_small_step() -> None:
    scaling = Scaling(request_time_s=1, max_replicas=50, pod_start_s=30, max_wait_s=0.5)
    curve = from_points([(0, 7), (60, 7), (60, 12), (300, 12)])
    advice = advise(curve, scaling)
    assert advice.has_503s
    assert advice.target_utilization is not None and advice.target_utilization < 0.7


def test_a_maximum_that_caps_the_autoscaler_is_named_with_the_one_that_removes_the_503s() -> None:
    scaling = Scaling(request_time_s=1, max_replicas=10, pod_start_s=5)
    curve = from_points([(0, 5), (300, 30), (600, 30)])
    advice = advise(curve, scaling)
    assert advice.capped and advice.max_replicas is not None
    assert (
        simulate(curve, Scaling(request_time_s=1, max_replicas=advice.max_replicas, pod_start_s=5)).rejected_fraction
        <= 0.001
    )
    assert (
        simulate(
            curve, Scaling(request_time_s=1, max_replicas=advice.max_replicas - 1, pod_start_s=5)
        ).rejected_fraction
        > 0.001
    )
    uncapped = advise(preset("spike", 40, 300), Scaling(request_time_s=1, max_replicas=100, pod_start_s=30))
    assert (uncapped.capped, uncapped.max_replicas) == (False, None)


def test_a_load_file_is_read_and_a_bad_one_named(tmp_path: Path) -> None:
    good = tmp_path / "load.csv"
    good.write_text("seconds,rps\n0,5\n60,10\n120,10\n")
    curve = from_file(good)
    assert (curve.duration_s, curve.peak_rps, curve.rps(30)) == (120, 10, 7.5)
    bad = tmp_path / "bad.csv"
    bad.write_text("seconds,rps\n0,5\nsixty,10\n")
    with pytest.raises(ValueError, match="line 3"):
        from_file(bad)


def _plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mldeploy", "plan", *args], capture_output=True, text=True,
                          timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_the_plan_command(tmp_path: Path) -> None:
    formula = _plan(
        "--target-rps", "20", "--request-time", "10", "--max-concurrent", "1", "--target-utilization", "0.7"
    )
    assert formula.returncode == 0 and ": 286" in formula.stdout
    plot = tmp_path / "spike.png"
    simulated = _plan("--target-rps", "40", "--request-time", "1", "--load", "spike", "--duration", "300",
                      "--max-replicas", "100", "--plot", str(plot))  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    assert "503s overall" in simulated.stdout and "Removes them: --min-replicas " in simulated.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    unknown = _plan("--target-rps", "1", "--request-time", "1", "--load", "tsunami")
    assert unknown.returncode == 2 and "tsunami" in unknown.stderr


def test_the_plan_says_first_when_the_maximum_causes_the_503s() -> None:
    capped = _plan("--target-rps", "30", "--request-time", "1", "--load", "steady", "--duration", "120",
                   "--max-replicas", "10", "--pod-start", "5")  # fmt: skip
    assert capped.returncode == 0, capped.stderr
    after = capped.stdout.split("503s overall:")[1].splitlines()
    assert after[1].startswith("--max-replicas 10 caps the autoscaler")
    assert after[2].startswith("Removes them: --max-replicas ")


def test_the_plan_as_json_is_only_json_and_holds_everything() -> None:
    planned = _plan("--target-rps", "40", "--request-time", "1", "--load", "spike", "--duration", "300", "-o", "json")
    assert planned.returncode == 0 and planned.stderr == ""
    result = json.loads(planned.stdout)
    assert result["replicas_needed"] == 58 and len(result["simulation"]["seconds"]) == 300
    assert result["simulation"]["rejected_percent"] > 1
    assert result["advice"]["capped_by_max_replicas"] and result["advice"]["min_replicas"] == 40
    assert result["advice"]["lines"][1].startswith("--max-replicas 10 caps the autoscaler")


def test_nothing_is_wrapped_in_a_narrow_pipe() -> None:
    narrow = subprocess.run([sys.executable, "-m", "mldeploy", "plan", "--target-rps", "20", "--request-time", "10"],
                            capture_output=True, text=True, env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert narrow.stdout.count("\n") == 1 and "per replica: 286  (ceil(20 * 10 / 0.7 / 1))" in narrow.stdout
