"""The charts' data: a service's own ``/metrics``, scraped while its page is open, turned into points (rates
and latency quantiles between two scrapes, gauges as read)."""

import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

SCORE_ROUTE = "/score"
KEPT_POINTS = 600  # ten minutes at one scrape a second
QUANTILES = {"p50_ms": 0.5, "p99_ms": 0.99}


@dataclass
class Scrape:
    """The counters and gauges of one ``/metrics`` answer, for the scoring route."""

    at: float
    by_status: dict[str, float] = field(default_factory=dict)  # requests answered, by status code
    buckets: dict[float, float] = field(default_factory=dict)  # latency histogram: upper bound (s) → cumulative count
    in_flight: float = 0.0
    workers_ready: float = 0.0
    restarts: float = 0.0


@dataclass
class Point:
    """What the charts draw for the interval ending at ``t`` (Unix seconds)."""

    t: float
    ok_per_s: float
    client_errors_per_s: float
    busy_503_per_s: float
    server_errors_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    in_flight: float
    workers_ready: float
    restarts: float


def parse(text: str, at: float) -> Scrape:
    scrape = Scrape(at)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "mldeploy_requests_total" and labels.get("route") == SCORE_ROUTE:
                scrape.by_status[labels["status"]] = sample.value
            elif sample.name == "mldeploy_request_duration_seconds_bucket" and labels.get("route") == SCORE_ROUTE:
                scrape.buckets[float(labels["le"])] = sample.value
            elif sample.name == "mldeploy_requests_in_flight":
                scrape.in_flight = sample.value
            elif sample.name == "mldeploy_workers_ready":
                scrape.workers_ready = sample.value
            elif sample.name == "mldeploy_worker_restarts_total":
                scrape.restarts = sample.value
    return scrape


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The ``q`` quantile of a cumulative histogram (as Prometheus' histogram_quantile: linear within a bucket);
    None without observations."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below) if count > below else bound
        lower, below = bound, count
    return lower


def point(before: Scrape, after: Scrape) -> Point:
    """The rates and latencies between two scrapes (counters that went down: the server restarted, count anew)."""
    seconds = max(after.at - before.at, 1e-3)

    def increase(now: float, then: float) -> float:
        return now if now < then else now - then

    def rate(statuses: list[str]) -> float:
        return sum(increase(after.by_status.get(s, 0.0), before.by_status.get(s, 0.0)) for s in statuses) / seconds

    codes = set(after.by_status)
    window = {bound: increase(count, before.buckets.get(bound, 0.0)) for bound, count in after.buckets.items()}
    latency = {name: quantile(q, window) for name, q in QUANTILES.items()}
    return Point(
        t=after.at,
        ok_per_s=rate([c for c in codes if c.startswith("2")]),
        client_errors_per_s=rate([c for c in codes if c.startswith("4")]),
        busy_503_per_s=rate(["503"]),
        server_errors_per_s=rate([c for c in codes if c.startswith("5") and c != "503"]),
        p50_ms=None if latency["p50_ms"] is None else latency["p50_ms"] * 1000,
        p99_ms=None if latency["p99_ms"] is None else latency["p99_ms"] * 1000,
        in_flight=after.in_flight,
        workers_ready=after.workers_ready,
        restarts=after.restarts,
    )


class Sampler:
    """The points of every service whose page is open, kept in this process while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, Scrape] = {}
        self._points: dict[str, deque[Point]] = {}

    def add(self, name: str, scrape: Scrape) -> list[dict[str, Any]]:
        """Record a scrape of service ``name``; every point kept for it, oldest first."""
        with self._lock:
            points = self._points.setdefault(name, deque(maxlen=KEPT_POINTS))
            previous = self._last.get(name)
            if previous is not None and scrape.at > previous.at:
                points.append(point(previous, scrape))
            self._last[name] = scrape
            return [asdict(each) for each in points]

    def points(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(each) for each in self._points.get(name, ())]

    def forget(self, name: str) -> None:
        with self._lock:
            self._last.pop(name, None)
            self._points.pop(name, None)
