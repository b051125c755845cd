"""How much memory does the service need? When a container keeps being OOM-killed, run its image once more
with a generous limit until init() is done, sampling the container's working set (what the kernel counts
against the limit, less reclaimable file cache), and report the peak."""

import dataclasses
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from ..scoring.config import ServerConfig
from ..workspace.private import write_private
from .capacity import GIB
from .container_policy import DOCKER_HARDENING, SERVICE_ENVIRONMENT, docker_user
from .local import free_port

PROBE_LABEL = "mldeploy.probe"
PROBE_TIMEOUT_S = 180.0
SAMPLE_S = 0.05
HEADROOM = 1.25
STEP_GB = 0.1


def _working_set(memory: dict[str, Any]) -> int:
    stats = memory.get("stats", {})
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return max(0, int(memory.get("usage", 0)) - int(inactive))


def measure_peak(
    client: Any,
    image: str,
    command: list[str],
    mount: str,
    config: ServerConfig,
    limit_bytes: int,
    user: tuple[int, int],
) -> int | None:
    """Peak working set in bytes of the server from ``image``, run as ``user`` (the service's), up to the end of
    init(); None when it did not become ready under ``limit_bytes`` within the probe's time."""
    with tempfile.TemporaryDirectory(prefix="mldeploy-probe-") as folder:
        probe = dataclasses.replace(config, port=free_port(), status_file=f"{mount}/status.json", debug_port=None)
        config_file = Path(folder, "server.json")
        write_private(config_file, probe.to_json())
        container = client.containers.run(
            image, [*command[:-1], f"{mount}/server.json"], detach=True, network_mode="host",
            mem_limit=limit_bytes, memswap_limit=limit_bytes, labels={PROBE_LABEL: image},
            volumes={folder: {"bind": mount, "mode": "rw"}}, user=docker_user(user, Path(folder), config_file),
            environment=SERVICE_ENVIRONMENT, **DOCKER_HARDENING,
        )  # fmt: skip
        status_file = Path(folder, "status.json")
        peak, ready = 0, False
        try:
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while time.monotonic() < deadline:
                stats = client.api.stats(container.id, stream=False, one_shot=True)
                peak = max(peak, _working_set(stats.get("memory_stats", {})))
                if status_file.exists():
                    ready = '"ready"' in status_file.read_text()
                    break
                container.reload()
                if container.status in ("exited", "dead"):
                    break
                time.sleep(SAMPLE_S)
        finally:
            container.remove(force=True)
    return peak if ready else None


def memory_to_ask(peak_bytes: int) -> float:
    """memory_gb to ask for: the peak plus headroom, rounded up to a tenth of a GB."""
    return round(math.ceil(peak_bytes * HEADROOM / GIB / STEP_GB) * STEP_GB, 1)
