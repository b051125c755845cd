"""What the rules read (a snapshot of the cluster's objects, as the API returns them) and what they say."""

import datetime
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClusterState:
    """Pods and events of one service (API dicts, camelCase), the previous containers' logs by pod name,
    when the service was applied, and now."""

    pods: list[dict[str, Any]]
    events: list[dict[str, Any]]
    applied_at: datetime.datetime
    now: datetime.datetime
    previous_logs: dict[str, str] = field(default_factory=dict)

    def container_statuses(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(pod, container status) pairs."""
        return [(pod, status) for pod in self.pods for status in pod.get("status", {}).get("containerStatuses") or []]


@dataclass
class Diagnosis:
    cause: str
    evidence: list[str]
    fix: list[str]
    fatal: bool = True  # the deployment cannot become healthy without a change

    def render(self) -> str:
        lines = [self.cause, *(f"  {line}" for line in self.evidence), "Fix:", *(f"  - {line}" for line in self.fix)]
        return "\n".join(lines)


def pod_name(pod: dict[str, Any]) -> str:
    return str(pod.get("metadata", {}).get("name", "?"))


def container_requests(pod: dict[str, Any]) -> dict[str, str]:
    """The requests of the pod's first container (the scoring server)."""
    containers = pod.get("spec", {}).get("containers") or [{}]
    return dict(containers[0].get("resources", {}).get("requests") or {})


def container_limits(pod: dict[str, Any]) -> dict[str, str]:
    containers = pod.get("spec", {}).get("containers") or [{}]
    return dict(containers[0].get("resources", {}).get("limits") or {})
