"""Load curves: requests per second over time, piecewise linear between points. Presets (steady, ramp,
spike) or a CSV file of ``seconds,rps`` lines."""

import bisect
import csv
import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .bounds import MAX_LOAD_POINTS, MAX_RPS, MAX_SECONDS

PRESETS = ("steady", "ramp", "spike")
SPIKE_BASE = 0.2  # a spike: a fifth of the peak, then the peak for the middle third, then back


@dataclass(frozen=True)
class LoadCurve:
    points: tuple[tuple[float, float], ...]  # (seconds, rps), sorted by time

    @property
    def duration_s(self) -> float:
        return self.points[-1][0]

    @property
    def peak_rps(self) -> float:
        return max(rps for _, rps in self.points)

    @cached_property
    def times(self) -> tuple[float, ...]:
        return tuple(time for time, _ in self.points)

    def rps(self, t: float) -> float:
        index = bisect.bisect_right(self.times, t)
        if index == 0:
            return self.points[0][1]
        if index == len(self.points):
            return self.points[-1][1]
        (t0, r0), (t1, r1) = self.points[index - 1], self.points[index]
        return r0 if t1 == t0 else r0 + (r1 - r0) * (t - t0) / (t1 - t0)


def preset(name: str, peak_rps: float, duration_s: float) -> LoadCurve:
    if name == "steady":
        return LoadCurve(((0.0, peak_rps), (duration_s, peak_rps)))
    if name == "ramp":
        return LoadCurve(((0.0, 0.0), (duration_s, peak_rps)))
    if name == "spike":
        base, third = peak_rps * SPIKE_BASE, duration_s / 3
        return LoadCurve(((0.0, base), (third, base), (third, peak_rps), (2 * third, peak_rps), (2 * third, base),
                          (duration_s, base)))  # fmt: skip
    raise ValueError(f"Unknown load preset {name!r}: use one of {', '.join(PRESETS)}, or a CSV file.")


def from_file(path: Path) -> LoadCurve:
    """A CSV of ``seconds,rps`` rows (a header row is allowed), times increasing, within the planner's bounds."""
    points: list[tuple[float, float]] = []
    with path.open(newline="") as file:
        for number, row in enumerate(csv.reader(file), 1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                point = (float(row[0]), float(row[1]))
            except (ValueError, IndexError):
                if number == 1:
                    continue  # header
                raise ValueError(f"{path}, line {number}: expected 'seconds,rps', got {','.join(row)!r}.") from None
            if not (0 <= point[0] <= MAX_SECONDS and 0 <= point[1] <= MAX_RPS and all(map(math.isfinite, point))):
                raise ValueError(f"{path}, line {number}: seconds from 0 to {MAX_SECONDS:,g} and requests/s from 0 "
                                 f"to {MAX_RPS:,g} are planned; got {','.join(row)!r}.")  # fmt: skip
            if len(points) == MAX_LOAD_POINTS:
                raise ValueError(f"{path}: more than {MAX_LOAD_POINTS:,} rows; give one row per second or fewer.")
            points.append(point)
    if len(points) < 2 or any(b[0] < a[0] for a, b in itertools.pairwise(points)):
        raise ValueError(f"{path}: give at least two 'seconds,rps' rows with increasing seconds.")
    return LoadCurve(tuple(points))
