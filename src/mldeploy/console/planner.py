"""The plan page: the replica formula and the autoscaler simulated for a preset load curve, as `mldeploy plan`
computes them, from inputs typed on the page (each checked, with the field named when it is wrong)."""

from dataclasses import dataclass, field
from typing import Any

from ..cli.plan import _advice_lines
from ..planning.advice import advise
from ..planning.bounds import BOUNDS, Bound
from ..planning.load import PRESETS, preset
from ..planning.replicas import replicas_needed, utilization_fraction
from ..planning.simulator import Scaling

NO_LOAD = "none"


UTILIZATION = Bound(0, 100, least_allowed=False)  # a fraction or a percentage: utilization_fraction() tells


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    default: float

    @property
    def bound(self) -> Bound:
        return BOUNDS.get(self.name, UTILIZATION)


INPUTS = (
    Input("target_rps", "Requests per second to serve", 20),
    Input("request_time", "Seconds one request takes", 0.1),
    Input("max_concurrent", "Concurrent requests per replica", 1),
    Input("target_utilization", "Target utilization (% or fraction)", 70),
    Input("duration", "Seconds simulated", 600),
    Input("min_replicas", "Minimum replicas", 1),
    Input("max_replicas", "Maximum replicas", 10),
    Input("refresh", "Autoscaler refresh (s)", 1),
    Input("max_wait_ms", "Longest queue wait (ms)", 500),
    Input("pod_start", "Seconds until a new replica is ready", 30),
)
LOADS = (NO_LOAD, *PRESETS)


class BadPlanInput(ValueError):
    """A typed value that cannot be used: the message names the field and what to type."""


@dataclass
class PlanResult:
    replicas_needed: int
    formula: str
    load: str
    rejected_percent: float | None = None
    advice: list[str] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)  # one list per chart line, per second


def _number(spec: Input, text: str) -> float:
    integer = spec.bound.integer
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise BadPlanInput(f"{spec.label}: {text!r} is not {kind}; type e.g. {spec.default:g}.") from None
    if not spec.bound.allows(value):
        raise BadPlanInput(f"{spec.label}: {text} cannot be planned; type {spec.bound.wanted}.")
    return value


def parse(typed: dict[str, str]) -> tuple[dict[str, float], str]:
    values = {spec.name: _number(spec, typed.get(spec.name, f"{spec.default:g}").strip()) for spec in INPUTS}
    load = typed.get("load", NO_LOAD)
    if load not in LOADS:
        raise BadPlanInput(f"Load {load!r} is not one of {', '.join(LOADS)}.")
    if values["min_replicas"] > values["max_replicas"]:
        raise BadPlanInput("Minimum replicas is more than maximum replicas; raise the maximum or lower the minimum.")
    try:
        values["target_utilization"] = utilization_fraction(values["target_utilization"])
    except ValueError:
        raise BadPlanInput("Target utilization: type a percentage up to 100 (e.g. 70) or a fraction (0.7).") from None
    return values, load


def plan(typed: dict[str, str]) -> PlanResult:
    values, load = parse(typed)
    rps, seconds, concurrent, fraction = (values[key] for key in ("target_rps", "request_time", "max_concurrent",
                                                                   "target_utilization"))  # fmt: skip
    result = PlanResult(
        replicas_needed=replicas_needed(rps, seconds, int(concurrent), fraction),
        formula=f"ceil({rps:g} * {seconds:g} / {fraction:g} / {int(concurrent)})",
        load=load,
    )
    if load == NO_LOAD:
        return result
    scaling = Scaling(seconds, int(concurrent), fraction, int(values["min_replicas"]), int(values["max_replicas"]),
                      values["refresh"], values["max_wait_ms"] / 1000, values["pod_start"])  # fmt: skip
    advice = advise(preset(load, rps, values["duration"]), scaling)
    simulated = advice.baseline.seconds
    result.rejected_percent = 100 * advice.baseline.rejected_fraction
    result.advice = _advice_lines(advice, scaling) if advice.has_503s else []
    result.series = {
        "t": [second.t for second in simulated],
        "rps": [round(second.rps, 2) for second in simulated],
        "ready": [second.ready_replicas for second in simulated],
        "in_flight": [round(second.in_flight, 2) for second in simulated],
        "rejected": [round(100 * second.rejected_fraction, 2) for second in simulated],
    }
    return result


def defaults() -> dict[str, Any]:
    return {spec.name: f"{spec.default:g}" for spec in INPUTS} | {"load": "spike"}
