"""Which setting removes the 503s a simulation shows: first whether ``autoscale_max_replicas`` caps the
autoscaler below what the load needs (then the smallest maximum that removes them), then the smallest
``autoscale_min_replicas`` or the highest ``autoscale_target_utilization`` that does it (the seed's two
measures)."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from .bounds import MAX_REPLICAS
from .load import LoadCurve
from .replicas import replicas_needed
from .simulator import Scaling, Simulation, simulate

NO_503_BELOW = 0.001  # a tenth of a percent of the requests
UTILIZATIONS = (0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


@dataclass
class Advice:
    baseline: Simulation
    capped: bool = False  # 503s were given while autoscale_max_replicas replicas were running
    max_replicas: int | None = None  # the smallest autoscale_max_replicas without 503s, when the maximum caps them
    min_replicas: int | None = None  # the smallest autoscale_min_replicas without 503s (max raised to it)
    target_utilization: float | None = None  # the highest target without 503s, other settings unchanged

    @property
    def has_503s(self) -> bool:
        return self.baseline.rejected_fraction > NO_503_BELOW


def _clean(curve: LoadCurve, scaling: Scaling) -> bool:
    return simulate(curve, scaling).rejected_fraction <= NO_503_BELOW


def _with_min(scaling: Scaling, replicas: int) -> Scaling:
    return dataclasses.replace(scaling, min_replicas=replicas, max_replicas=max(scaling.max_replicas, replicas))


def _with_max(scaling: Scaling, replicas: int) -> Scaling:
    return dataclasses.replace(scaling, max_replicas=replicas)


def _smallest(
    curve: LoadCurve, scaling: Scaling, low: int, high: int, change: Callable[[Scaling, int], Scaling]
) -> int | None:
    """The smallest count in [low, high] for which ``change(scaling, count)`` has no 503s (bisection), or None."""
    if not _clean(curve, change(scaling, high)):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if _clean(curve, change(scaling, middle)) else (middle + 1, high)
    return low


def advise(curve: LoadCurve, scaling: Scaling) -> Advice:
    advice = Advice(simulate(curve, scaling))
    if not advice.has_503s:
        return advice
    steady_state = replicas_needed(curve.peak_rps, scaling.request_time_s, scaling.max_concurrent, 1.0)
    upper = min(max(scaling.max_replicas, steady_state * 2), MAX_REPLICAS)
    advice.capped = any(
        second.ready_replicas >= scaling.max_replicas and second.rejected_fraction > 0
        for second in advice.baseline.seconds
    )
    if advice.capped and upper > scaling.max_replicas:
        advice.max_replicas = _smallest(curve, scaling, scaling.max_replicas + 1, upper, _with_max)
    if upper > scaling.min_replicas:
        advice.min_replicas = _smallest(curve, scaling, scaling.min_replicas + 1, upper, _with_min)
    for utilization in UTILIZATIONS:
        if utilization < scaling.target_utilization and _clean(
            curve, dataclasses.replace(scaling, target_utilization=utilization)
        ):
            advice.target_utilization = utilization
            break
    return advice
