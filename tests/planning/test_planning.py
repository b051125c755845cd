"""The seed's replica formula, the autoscaler simulation, the advice it gives, and `mldeploy plan`."""

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
    assert "503s overall" in simulated.stdout and "autoscale_min_replicas=" in simulated.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    unknown = _plan("--target-rps", "1", "--request-time", "1", "--load", "tsunami")
    assert unknown.returncode == 2 and "tsunami" in unknown.stderr
