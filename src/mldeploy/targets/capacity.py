"""Can this host run a container with the CPU and memory asked for? Checked before anything starts, and
refused in the scheduler's own words (``0/1 nodes are available: 1 Insufficient memory``), as the seed
describes for clusters: this host is the one node, and our other running services hold their share."""

from dataclasses import dataclass
from typing import Any

from ..errors import DeploymentError
from ..wording import phrase

GIB = 1024**3
SERVICE_LABEL = "mldeploy.service"
MIN_MEMORY_GB = 0.05  # the scoring server itself needs about 40 MB


@dataclass(frozen=True)
class HostCapacity:
    cpus: float
    memory_gb: float
    held_cpus: float  # by our other running containers
    held_memory_gb: float
    holders: tuple[str, ...]

    @property
    def free_cpus(self) -> float:
        return self.cpus - self.held_cpus

    @property
    def free_memory_gb(self) -> float:
        return self.memory_gb - self.held_memory_gb


def host_capacity(client: Any, exclude: str | None = None) -> HostCapacity:
    """The engine's CPUs and memory, and what our running containers (but ``exclude``) already hold."""
    info = client.info()
    held_cpus = held_memory = 0.0
    holders = []
    for container in client.containers.list(filters={"label": SERVICE_LABEL}):
        if container.name == exclude:
            continue
        limits = container.attrs["HostConfig"]
        held_cpus += (limits.get("NanoCpus") or 0) / 1e9
        held_memory += (limits.get("Memory") or 0) / GIB
        restarting = " (failing: its container keeps restarting)" if container.status == "restarting" else ""
        holders.append(container.labels.get(SERVICE_LABEL, container.name) + restarting)
    return HostCapacity(float(info["NCPU"]), info["MemTotal"] / GIB, held_cpus, held_memory, tuple(holders))


def check_request(capacity: HostCapacity, cpu_cores: float, memory_gb: float) -> None:
    """DeploymentError when the request is not valid or does not fit on this host."""
    if cpu_cores <= 0 or memory_gb <= 0:
        asked = phrase(api=f"cpu_cores={cpu_cores:g} and memory_gb={memory_gb:g}",
                       cli=f"--cpu {cpu_cores:g} and --memory {memory_gb:g}")  # fmt: skip
        defaults = phrase(api="AciWebservice.deploy_configuration(cpu_cores=0.1, memory_gb=0.5)",
                          cli="--cpu 0.1 --memory 0.5")  # fmt: skip
        raise DeploymentError(f"{asked} must both be above 0 ({defaults} are the defaults).")
    if memory_gb < MIN_MEMORY_GB:
        asked = phrase(api=f"memory_gb={memory_gb:g}", cli=f"--memory {memory_gb:g}")
        default = phrase(api="memory_gb=0.5", cli="--memory 0.5")
        raise DeploymentError(
            f"{asked} is below the {MIN_MEMORY_GB:g} GB the scoring server needs before it loads any model; ask for "
            f"more ({default} is the default)."
        )
    short = []
    if cpu_cores > capacity.free_cpus:
        short.append(("cpu", f"{cpu_cores:g} CPU", f"{capacity.free_cpus:g} of {capacity.cpus:g} CPU", "cpu_cores"))
    if memory_gb > capacity.free_memory_gb:
        short.append(("memory", f"{memory_gb:g} GB", f"{capacity.free_memory_gb:.1f} of {capacity.memory_gb:.1f} GB",
                      "memory_gb"))  # fmt: skip
    if not short:
        return
    lines = [f"Cannot schedule the container: 0/1 nodes are available: 1 Insufficient "
             f"{', '.join(name for name, *_ in short)}."]  # fmt: skip
    lines += [f"  {name}: asked {asked}, free on this host {free}" for name, asked, free, _ in short]
    if capacity.holders:
        lines.append(
            f"  Other services hold {capacity.held_cpus:g} CPU and {capacity.held_memory_gb:.1f} GB: "
            f"{', '.join(capacity.holders)}."
        )
    settings = ", ".join(f"{setting}=..." for *_, setting in short)
    flags = " / ".join("--cpu" if name == "cpu" else "--memory" for name, *_ in short)
    services = phrase(api="ws.webservices", cli="mldeploy service list")
    lines += [
        "Fixes:",
        f"  - ask for less: {phrase(api=f'AciWebservice.deploy_configuration({settings})', cli=flags)};",
        f"  - free resources: delete or shrink other services (`{services}`);",
        "  - deploy on a bigger machine, or on a Kubernetes cluster with more or larger nodes.",
    ]
    raise DeploymentError("\n".join(lines))
