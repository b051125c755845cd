"""A fluid simulation of autoscaled replicas under a load curve, as v1 served them: each replica takes
``max_concurrent`` requests at a time; a request that finds every slot busy waits in the replica's queue,
and gets a 503 when it would wait longer than ``max_request_wait_time``. The autoscaler looks every
``refresh`` seconds at the requests in flight (running + queued), asks for
``ceil(in_flight / (max_concurrent * target_utilization))`` replicas, starts new pods that become ready
after ``pod_start`` seconds, and removes pods only when the wish has stayed lower for the stabilisation
window (Kubernetes' scale-down default: 300 s). It starts settled for the curve's first rate.
"""

import math
from collections import deque
from dataclasses import dataclass, field

from .load import LoadCurve
from .replicas import EPSILON

STEP_S = 0.05


@dataclass(frozen=True)
class Scaling:
    request_time_s: float
    max_concurrent: int = 1
    target_utilization: float = 0.7
    min_replicas: int = 1
    max_replicas: int = 10
    refresh_s: float = 1.0
    max_wait_s: float = 0.5
    pod_start_s: float = 30.0
    stabilization_s: float = 300.0


@dataclass
class Second:
    """One second of the simulation."""

    t: int
    rps: float
    ready_replicas: int
    in_flight: float
    rejected_fraction: float


@dataclass
class Simulation:
    seconds: list[Second] = field(default_factory=list)
    arrived: float = 0.0
    rejected: float = 0.0

    @property
    def rejected_fraction(self) -> float:
        return self.rejected / self.arrived if self.arrived else 0.0


def _desired(in_flight: float, scaling: Scaling) -> int:
    wanted = math.ceil(in_flight / (scaling.max_concurrent * scaling.target_utilization) - EPSILON)
    return min(scaling.max_replicas, max(scaling.min_replicas, wanted))


def simulate(curve: LoadCurve, scaling: Scaling) -> Simulation:
    result = Simulation()
    # settled for the curve's first rate, as a running service would be: in flight = rate * time (Little)
    settled = curve.rps(0.0) * scaling.request_time_s
    ready = _desired(settled, scaling)
    busy, queued = min(settled, float(ready * scaling.max_concurrent)), 0.0
    starting: deque[float] = deque()  # ready times of pods being started
    # (time, desired) within the stabilisation window, each wish higher than every later one: the first is the
    # window's highest, found in constant time however often the autoscaler looks
    wishes: deque[tuple[float, int]] = deque([(0.0, ready)])
    next_refresh, second_arrived, second_rejected = scaling.refresh_s, 0.0, 0.0
    steps = round(curve.duration_s / STEP_S)
    for step in range(steps):
        t = step * STEP_S
        while starting and starting[0] <= t:
            starting.popleft()
            ready += 1
        slots = ready * scaling.max_concurrent
        arrivals = curve.rps(t) * STEP_S
        step_of = _slow_step if scaling.request_time_s >= STEP_S else _fast_step
        busy, queued, rejected = step_of(busy, queued, arrivals, slots, scaling)
        result.arrived += arrivals
        result.rejected += rejected
        second_arrived += arrivals
        second_rejected += rejected
        if t + EPSILON >= next_refresh:
            next_refresh += scaling.refresh_s
            ready = _scale(t, ready, starting, wishes, _desired(busy + queued, scaling), scaling)
        if (step + 1) % round(1 / STEP_S) == 0:
            result.seconds.append(Second(int(t + STEP_S), curve.rps(t), ready, busy + queued,
                                         second_rejected / second_arrived if second_arrived else 0.0))  # fmt: skip
            second_arrived = second_rejected = 0.0
    return result


def _slow_step(busy: float, queued: float, arrivals: float, slots: int, scaling: Scaling) -> tuple[float, float, float]:
    """One step of requests that last a step or more: a share of the busy slots ends, the queue and then the
    arrivals take the free ones, the rest waits (up to the queue wait) or is refused. (busy, queued, rejected)."""
    busy -= busy * STEP_S / scaling.request_time_s
    moved = min(max(0.0, slots - busy), queued)
    busy, queued = busy + moved, queued - moved
    direct = min(max(0.0, slots - busy), arrivals)
    queue_room = max(0.0, scaling.max_wait_s * slots / scaling.request_time_s - queued)
    admitted = min(arrivals - direct, queue_room)
    return busy + direct, queued + admitted, arrivals - direct - admitted


def _fast_step(busy: float, queued: float, arrivals: float, slots: int, scaling: Scaling) -> tuple[float, float, float]:
    """One step of requests shorter than a step: each slot serves ``STEP_S / request_time`` of them in it; what
    is not served waits (up to the queue wait) or is refused; busy slots are the served rate times the request
    time (Little's law). The same as ``_slow_step`` when a request lasts exactly a step."""
    del busy  # every request in service at the step's start has ended within it
    served = min(queued + arrivals, slots * STEP_S / scaling.request_time_s)
    waiting = queued + arrivals - served
    rejected = max(0.0, waiting - scaling.max_wait_s * slots / scaling.request_time_s)
    return served * scaling.request_time_s / STEP_S, waiting - rejected, rejected


def _scale(t: float, ready: int, starting: deque[float], wishes: deque[tuple[float, int]], desired: int,
           scaling: Scaling) -> int:  # fmt: skip
    """Start pods for a higher wish at once; remove pods only for a wish that stayed lower all window long."""
    while wishes and wishes[-1][1] <= desired:
        wishes.pop()
    wishes.append((t, desired))
    while wishes[0][0] < t - scaling.stabilization_s:
        wishes.popleft()
    total = ready + len(starting)
    if desired > total:
        starting.extend([t + scaling.pod_start_s] * (desired - total))
        return ready
    keep = wishes[0][1]
    while total > keep:
        if starting:
            starting.pop()
        else:
            ready -= 1
        total -= 1
    return ready
