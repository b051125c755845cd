"""Prometheus metrics of one scoring server (one replica): what ``GET /metrics`` answers.

The per-request figures (requests by route and status, their latency, the queue wait) are plain counters
that a request bumps with one dictionary lookup and one list index; prometheus_client turns them into
metric families only when /metrics is read. Its own Counter and Histogram take a lock and walk the
buckets on every request, which cost the front more than parsing the request did.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Buckets:
    """One histogram's observations: a count per bucket (the last one past every bound) and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # a bucket holds values up to its bound, inclusive
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        total = 0
        out = []
        for bound, count in zip((*map(floatToGoString, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class RequestFigures(Collector):
    """Requests answered by route and status, their latency by route, and the queue wait."""

    def __init__(self) -> None:
        self.answered: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.latency: defaultdict[str, Buckets] = defaultdict(partial(Buckets, LATENCY_BUCKETS))
        self.queue_wait = Buckets(WAIT_BUCKETS)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.answered[route, status] += 1
        self.latency[route].observe(seconds)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "mldeploy_requests", "HTTP requests answered, by route and status code.", labels=["route", "status"]
        )
        for (route, status), count in sorted(self.answered.items()):
            requests.add_metric([route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "mldeploy_request_duration_seconds", "Time from request received to answer, by route.", labels=["route"]
        )
        for route, buckets in sorted(self.latency.items()):
            latency.add_metric([route], buckets.cumulative(), buckets.sum)
        yield latency
        wait = HistogramMetricFamily(
            "mldeploy_queue_wait_seconds", "Time a scoring request waited in the queue for a free worker."
        )
        wait.add_metric([], self.queue_wait.cumulative(), self.queue_wait.sum)
        yield wait


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._figures = RequestFigures()
        self.registry.register(self._figures)
        self.observe = self._figures.observe
        self.queue_wait = self._figures.queue_wait
        self.in_flight = Gauge(
            "mldeploy_requests_in_flight",
            "Scoring requests received and not yet answered (running or queued).",
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "mldeploy_worker_restarts",
            "Worker processes restarted after they died or were replaced.",
            registry=self.registry,
        )
        self.workers_ready = Gauge(
            "mldeploy_workers_ready",
            "Worker processes whose init() finished and that take requests.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
