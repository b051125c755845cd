"""The planner's inputs and their bounds, one table for `mldeploy plan` and the console's plan page.

Each is bounded so that a plan ends soon and in little memory: a simulation costs time in proportion to the
seconds it simulates (20 steps a second, each a few microseconds; the advice runs up to about 30 of them), the
autoscaler's memory in proportion to the replicas it starts, and a load curve's points are all held.
Infinite and NaN values are refused everywhere.
"""

import math
from dataclasses import dataclass

MAX_LOAD_POINTS = 100_000  # rows of a load curve's CSV file
MAX_REPLICAS = 10_000  # also the most replicas the advice tries


@dataclass(frozen=True)
class Bound:
    least: float
    most: float
    integer: bool = False
    least_allowed: bool = True  # else only values above ``least``

    def allows(self, value: float) -> bool:
        if not math.isfinite(value) or value > self.most or (self.integer and value != int(value)):
            return False
        return value > self.least or (value == self.least and self.least_allowed)

    @property
    def wanted(self) -> str:
        """What to give, in words."""
        least, most = _shown(self.least), _shown(self.most)
        if self.integer:
            return f"a whole number from {least} to {most}"
        if self.least_allowed:
            return f"a number from {least} to {most}"
        return f"a number more than {least} and at most {most}"


def _shown(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


HOUR_S = 3600.0
BOUNDS = {
    "target_rps": Bound(0, 1_000_000, least_allowed=False),
    "request_time": Bound(0, HOUR_S, least_allowed=False),
    "max_concurrent": Bound(1, 1_000, integer=True),
    "duration": Bound(0, 6 * HOUR_S, least_allowed=False),
    "min_replicas": Bound(1, MAX_REPLICAS, integer=True),
    "max_replicas": Bound(1, MAX_REPLICAS, integer=True),
    "refresh": Bound(0, HOUR_S, least_allowed=False),
    "max_wait_ms": Bound(0, HOUR_S * 1000),
    "pod_start": Bound(0, HOUR_S),
}
MAX_SECONDS = BOUNDS["duration"].most
MAX_RPS = BOUNDS["target_rps"].most
