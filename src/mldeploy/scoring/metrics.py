"""Prometheus metrics of one scoring server (one replica): what ``GET /metrics`` answers."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "mldeploy_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "mldeploy_request_duration_seconds",
            "Time from request received to answer, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mldeploy_requests_in_flight",
            "Scoring requests received and not yet answered (running or queued).",
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "mldeploy_queue_wait_seconds",
            "Time a scoring request waited in the queue for a free worker.",
            buckets=WAIT_BUCKETS,
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
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            children = (self._requests.labels(route, str(status)), self._latency.labels(route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
