"""The seed's formula: replicas needed for a target request rate at a target utilisation."""

import math

EPSILON = 1e-9  # 20 * 10 / 0.7 is 285.71...; 10 * 1 / 0.5 must stay 20, not 20.000000000000004 → 21


def utilization_fraction(value: float) -> float:
    """0.7 or 70 (v1's autoscale_target_utilization is a percentage) → 0.7."""
    fraction = value / 100 if value > 1 else value
    if not 0 < fraction <= 1:
        raise ValueError(f"target utilization {value} must be in (0, 1] or in (0, 100] as a percentage.")
    return fraction


def concurrent_requests(target_rps: float, request_time_s: float, target_utilization: float) -> float:
    return target_rps * request_time_s / utilization_fraction(target_utilization)


def replicas_needed(target_rps: float, request_time_s: float, max_concurrent: int, target_utilization: float) -> int:
    """``ceil(target_rps * request_time / target_utilization / max_concurrent)``, at least 1."""
    concurrent = concurrent_requests(target_rps, request_time_s, target_utilization)
    return max(1, math.ceil(concurrent / max_concurrent - EPSILON))
