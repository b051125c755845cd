"""What is measured: each fixture score.py with its request body, at 1 and 2 workers; and what one run gives."""

from dataclasses import dataclass

from procs import CpuTime, Memory
from wrk import WrkResult

SCRIPT_BODIES = {
    "echo.py": '{"data": [[1,2,3,4,5,6,7,8,9,10]]}',
    "predict_list.py": '{"data": [[1,2,3,4,5,6,7,8,9,10],[10,9,8,7,6,5,4,3,2,1]]}',
    "schema_numpy.py": '{"data": [[0.03,0.05,0.06,0.02,-0.04,-0.03,-0.04,0.0,0.02,-0.01]]}',
}
WORKER_COUNTS = (1, 2)


@dataclass(frozen=True)
class Scenario:
    script: str
    body: str
    workers: int


SCENARIOS = tuple(
    Scenario(script, body, workers) for script, body in SCRIPT_BODIES.items() for workers in WORKER_COUNTS
)
LIMIT_SCENARIO = SCENARIOS[0]  # echo.py at 1 worker: compared with the bare HTTP layer
PEER_SCENARIO = SCENARIOS[2]  # predict_list.py at 1 worker: compared with peers serving the same model


@dataclass(frozen=True)
class Measurement:
    """One server on one scenario; ``problems`` is empty for a clean run."""

    load: WrkResult
    memory: Memory
    cold_start_s: float
    problems: tuple[str, ...]
    cpu: CpuTime  # over the measured run: the front's and the workers' user + system seconds

    @property
    def requests_per_cpu_s(self) -> float:
        """Requests answered per CPU-second of the whole server: independent of how many cores the machine has."""
        return self.load.requests / self.cpu.total_s if self.cpu.total_s else 0.0

    @property
    def rss_mib(self) -> float:
        """Resident memory of every process of the server."""
        return self.memory.front_mib + self.memory.per_worker_mib * len(self.memory.worker_pids)

    def cpu_us_per_request(self) -> tuple[float, float]:
        """(front, workers) CPU microseconds per request."""
        requests = max(self.load.requests, 1)
        return self.cpu.front_s / requests * 1e6, self.cpu.workers_s / requests * 1e6


@dataclass(frozen=True)
class Comparison:
    scenario: Scenario
    ours: Measurement
    reference: Measurement

    @property
    def clean(self) -> bool:
        return not (self.ours.problems or self.reference.problems)
