"""What every target does with a service, and the states it reports (the v1 names)."""

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from ..errors import DeploymentError  # noqa: F401 - re-exported for the targets
from ..scoring.config import ServerConfig
from ..workspace.services import ServiceRecord


class ServiceState(StrEnum):
    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    FAILED = "Failed"
    DELETING = "Deleting"


class Target(Protocol):
    """What the deployment flow asks of a target (local processes now; Docker and Kubernetes next)."""

    def start(self, record: ServiceRecord, config: ServerConfig) -> None: ...
    def state(self, record: ServiceRecord) -> ServiceState: ...
    def wait(
        self, record: ServiceRecord, timeout_s: float, progress: Callable[[str], None], generation: int = 0
    ) -> None: ...
    def logs(self, record: ServiceRecord, num_lines: int) -> str: ...
    def signal_reload(self, record: ServiceRecord) -> int: ...
    def stop(self, record: ServiceRecord) -> None: ...
