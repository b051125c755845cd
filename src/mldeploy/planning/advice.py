"""Which setting removes the 503s a simulation shows: the smallest ``autoscale_min_replicas``, or the
highest ``autoscale_target_utilization`` that does it (the seed's two measures)."""

import dataclasses
from dataclasses import dataclass

from .load import LoadCurve
from .replicas import replicas_needed
from .simulator import Scaling, Simulation, simulate

NO_503_BELOW = 0.001  # a tenth of a percent of the requests
UTILIZATIONS = (0.6, 0.5, 0.4, 0.3, 0.2, 0.1)


@dataclass
class Advice:
    baseline: Simulation
    min_replicas: int | None = None  # the smallest autoscale_min_replicas without 503s (max raised to it)
    target_utilization: float | None = None  # the highest target without 503s, other settings unchanged

    @property
    def has_503s(self) -> bool:
        return self.baseline.rejected_fraction > NO_503_BELOW


def _clean(curve: LoadCurve, scaling: Scaling) -> bool:
    return simulate(curve, scaling).rejected_fraction <= NO_503_BELOW


def _with_min(scaling: Scaling, replicas: int) -> Scaling:
    return dataclasses.replace(scaling, min_replicas=replicas, max_replicas=max(scaling.max_replicas, replicas))


def advise(curve: LoadCurve, scaling: Scaling) -> Advice:
    advice = Advice(simulate(curve, scaling))
    if not advice.has_503s:
        return advice
    steady_state = replicas_needed(curve.peak_rps, scaling.request_time_s, scaling.max_concurrent, 1.0)
    upper = max(scaling.max_replicas, steady_state * 2)
    if _clean(curve, _with_min(scaling, upper)):
        low, high = scaling.min_replicas + 1, upper
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if _clean(curve, _with_min(scaling, middle)) else (middle + 1, high)
        advice.min_replicas = low
    for utilization in UTILIZATIONS:
        if utilization < scaling.target_utilization and _clean(
            curve, dataclasses.replace(scaling, target_utilization=utilization)
        ):
            advice.target_utilization = utilization
            break
    return advice
