"""The Docker target (the ACI equivalent): the deployment image run as one container with ``--network host``
on 127.0.0.1, CPU and memory limits, and Docker's restart policy (a growing delay before each restart).

The service's folder is mounted into the container: the server reads its config there (so SIGHUP reloads
new keys) and writes its status there (so init() failures come back with file, line and fix). The server runs
as the image's user or the host's, never root (container_policy). A container
that fails init() again and again is a CrashLoopBackOff; one whose worker the kernel kills for memory is
told how much memory to ask for, measured.
"""

import dataclasses
import hashlib
import time
from typing import Any

from ..diagnose.containers import BOOT_LINE
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.blobs import BlobStore
from ..workspace.services import ServiceRecord
from . import app_folder
from .base import (
    DeploymentError,
    Plan,
    Progress,
    ServiceState,
    failure_message,
    healthy,
    not_running,
    post_direct,
)
from .capacity import GIB, SERVICE_LABEL, check_request, host_capacity
from .container_policy import DOCKER_HARDENING, docker_user, hand_over, stop_timeout_s
from .docker_engine import connect
from .image_build import build_deployment_image
from .keys import keys_for
from .local import check_port
from .memory_probe import measure_peak, memory_to_ask
from .service_image import build_service_image, remove_service_images

MOUNT = "/var/mldeploy/service"
COMMAND = ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", f"{MOUNT}/server.json"]
WORKSPACE_LABEL = "mldeploy.workspace"
DEFAULT_CPU_CORES = 0.1
DEFAULT_MEMORY_GB = 0.5
CRASH_LOOP_RESTARTS = 2
DEBUG_PORT = 5678
DEBUG_REQUIREMENTS = ("debugpy>=1.8",)
DEBUG_SCORING_TIMEOUT_MS = 24 * 3600 * 1000  # paused at a breakpoint is not a stuck run()
POLL_S = 0.2
FIRST_UNPRIVILEGED_PORT = 1024


def container_name(record: ServiceRecord) -> str:
    """Unique on this host: the service's name and its workspace folder."""
    return f"mldeploy-{record.name}-{hashlib.sha256(str(record.path).encode()).hexdigest()[:8]}"


def limits(settings: dict[str, Any]) -> tuple[float, float]:
    """(cpu_cores, memory_gb) with the v1 defaults."""
    return float(settings.get("cpu_cores") or DEFAULT_CPU_CORES), float(settings.get("memory_gb") or DEFAULT_MEMORY_GB)


class DockerTarget:
    def __init__(self) -> None:
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def _container(self, record: ServiceRecord) -> Any:
        from docker.errors import NotFound

        try:
            return self.client.containers.get(container_name(record))
        except NotFound:
            return None

    def admit(self, settings: dict[str, Any], port: int, current: ServiceRecord | None) -> None:
        cpu_cores, memory_gb = limits(settings)
        check_request(host_capacity(self.client, container_name(current) if current else None), cpu_cores, memory_gb)
        if port < FIRST_UNPRIVILEGED_PORT:
            raise DeploymentError(
                f"Port {port} is below {FIRST_UNPRIVILEGED_PORT}: only root may listen there, and the container "
                f"runs without privileges. Choose a port of {FIRST_UNPRIVILEGED_PORT} or above (or none: a free one)."
            )
        if current is None:
            check_port(port)

    def prepare(self, blobs: BlobStore, record: ServiceRecord, plan: Plan, progress: Progress) -> ServerConfig:
        """Build the deployment image of ``record.revision`` (cached layers: environment, runtime, models, code)."""
        settings = plan.settings
        debug = bool(settings.get("debug"))
        repository = f"mldeploy/{container_name(record)}"
        extra = DEBUG_REQUIREMENTS if debug else ()
        image_config = build_service_image(self.client, blobs, record, plan, progress, repository, extra)
        record.keys = keys_for(settings, record.keys)
        return dataclasses.replace(
            image_config,
            host="127.0.0.1",
            port=record.port,
            workers=1 if debug else int(settings.get("workers") or 1),
            debug_errors=bool(settings.get("debug_errors", False)),
            legacy_compat=bool(settings.get("legacy_compat", False)),
            auth_keys=tuple(record.keys),
            init_retries=0,  # Docker restarts the container, with backoff
            status_file=f"{MOUNT}/status.json",
            debug_port=DEBUG_PORT if debug else None,
            scoring_timeout_ms=DEBUG_SCORING_TIMEOUT_MS if debug else image_config.scoring_timeout_ms,
        )

    def start(self, record: ServiceRecord, config: ServerConfig) -> None:
        """(Re)create the service's container from ``record.image``."""
        record.write_config(config)
        record.status_file.unlink(missing_ok=True)
        previous = self._remove(record)
        cpu_cores, memory_gb = limits(record.deployment_config)
        memory = int(memory_gb * GIB)
        host = self.client.api.create_host_config(
            network_mode="host", nano_cpus=int(cpu_cores * 1e9), mem_limit=memory, memswap_limit=memory,
            restart_policy={"Name": "on-failure"}, binds={str(record.path): {"bind": MOUNT, "mode": "rw"}},
            **DOCKER_HARDENING,
        )  # fmt: skip
        created = self.client.api.create_container(  # the client's containers.run() cannot set a stop timeout
            record.image, COMMAND, name=container_name(record), host_config=host,
            user=docker_user(record.path, record.config_file), stop_timeout=stop_timeout_s(config),
            labels={SERVICE_LABEL: record.name, WORKSPACE_LABEL: str(record.path)},
        )  # fmt: skip
        self.client.api.start(created["Id"])
        record.started = time.time()
        record.save()
        remove_service_images(self.client, [f"mldeploy/{container_name(record)}"], record.image, previous)

    def running(self, record: ServiceRecord) -> bool:
        container = self._container(record)
        return container is not None and container.status in ("running", "restarting")

    def apply(self, record: ServiceRecord, config: ServerConfig) -> int:
        """A new container from the new image (the old one stops first: both would need the same port)."""
        self.start(record, config)
        return 0

    def reload(self, record: ServiceRecord) -> int:
        """Copy the edited code into the build context, rebuild (only the code layer changes), restart."""
        try:
            script, source = app_folder.resolve_entry_script(record.entry_script, record.source_directory)
        except FileNotFoundError as error:
            raise DeploymentError(str(error)) from None
        app_folder.copy_code(record.app_root / "app", script, source)
        assert record.image is not None
        build_deployment_image(self.client, record.app_root, record.image, lambda step: None, record.path / "build.log")
        self.start(record, ServerConfig.from_file(str(record.config_file)))
        return 0

    def post(self, record: ServiceRecord, body: bytes) -> tuple[int, bytes]:
        return post_direct(record, body)

    def state(self, record: ServiceRecord) -> ServiceState:
        from ..errors import DockerUnavailable

        try:
            container = self._container(record)
        except DockerUnavailable:
            return ServiceState.UNHEALTHY
        if container is None:
            return ServiceState.FAILED
        state = container.attrs["State"]
        if state["Running"] and not state["Restarting"] and healthy(record.port):
            return ServiceState.HEALTHY
        if container.attrs["RestartCount"] >= CRASH_LOOP_RESTARTS or state["Status"] in ("exited", "dead"):
            return ServiceState.FAILED
        return ServiceState.TRANSITIONING

    def wait(self, record: ServiceRecord, timeout_s: float, progress: Progress, generation: int = 0) -> None:
        """Until the server (generation > ``generation``) is ready; DeploymentError with the cause as soon as
        the container crash-loops or stops, without waiting for the timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            container = self._container(record)
            if container is None:
                again = phrase(api="service.start()", cli=f"mldeploy service start {record.name}")
                raise DeploymentError(
                    f"The container of {record.name!r} is gone; start it again (from its image): {again}."
                )
            status = record.status()
            fresh = status is not None and status["generation"] > generation
            if fresh and status["state"] == "ready" and healthy(record.port):
                return
            restarts = int(container.attrs["RestartCount"])
            report = status.get("report") if status else None
            if generation > 0 and fresh and status["state"] == "failed":
                raise DeploymentError(
                    failure_message(record, report, self.logs(record, 30), f"Reloading {record.name!r} failed.")
                )
            if generation == 0 and restarts >= CRASH_LOOP_RESTARTS:
                raise DeploymentError(self._explain_failure(record, container, report))
            if container.attrs["State"]["Status"] in ("exited", "dead"):
                raise DeploymentError(failure_message(record, None, self.logs(record, 30)))
            restarted = f", {restarts} restarts" if restarts else ""
            progress(f"waiting for init() ({time.monotonic() - started:.0f} s{restarted})")
            time.sleep(POLL_S)
        raise DeploymentError(
            f"Service {record.name!r} was not healthy after {timeout_s:.0f} s (init() still running?). "
            f"See `mldeploy service logs {record.name}`."
        )

    def _explain_failure(self, record: ServiceRecord, container: Any, report: Any) -> str:
        """A crash loop: for lack of memory (the engine saw OOM kills), else the server's own report."""
        log = self.logs(record, 5000)
        restarts = int(container.attrs["RestartCount"])
        oom_kills = self._oom_kills(container, record.started)
        if oom_kills:
            return self._memory_message(record, oom_kills, log.count(BOOT_LINE), restarts)
        headline = (
            f"Service {record.name!r} is in CrashLoopBackOff: init() failed and the container was restarted "
            f"{restarts} times, each after a longer wait."
        )
        return failure_message(record, report, log, headline)

    def _oom_kills(self, container: Any, since: float) -> int:
        """How many times the kernel killed a process of this container for memory since it was created."""
        events = self.client.events(
            since=int(since) - 1, until=int(time.time()) + 1, filters={"container": container.id, "event": "oom"},
            decode=True,
        )  # fmt: skip
        return sum(1 for _ in events)

    def _memory_message(self, record: ServiceRecord, oom_kills: int, boots: int, restarts: int) -> str:
        _, memory_gb = limits(record.deployment_config)
        lines = [
            f"Service {record.name!r} is in CrashLoopBackOff: not enough memory. The kernel killed the worker "
            f"{oom_kills} time(s) for lack of memory (OOM) while init() was loading; 'Booting worker with pid' appears "
            f"{boots} times in the log and the container was restarted {restarts} times.",
            f"{phrase(api='memory_gb=', cli='--memory ')}{memory_gb:g} gives the container {memory_gb * 1024:.0f} MiB.",
        ]
        assert record.image is not None
        probe_limit = int(host_capacity(self.client).free_memory_gb * GIB * 0.8)
        config = ServerConfig.from_file(str(record.config_file))
        peak = measure_peak(self.client, record.image, COMMAND, MOUNT, config, probe_limit)
        update = f"mldeploy service update {record.name} --memory"
        if peak is None:
            more = phrase(api="increase memory_gb in the deployment configuration", cli=f"give it more: {update} GB")
            lines.append(f"Fix: {more} (a probe without the limit did not finish init() either; check the log).")
        else:
            ask = memory_to_ask(peak)
            api = (f"ask for memory_gb={ask:g} (the peak plus 25 %): service.update(deployment_config="
                   f"AciWebservice.deploy_configuration(memory_gb={ask:g})), or deploy again with it.")  # fmt: skip
            lines += [
                f"Measured in a probe container without that limit, the service peaks at {peak / 2**20:.0f} MiB "
                "while init() runs.",
                f"Fix: {phrase(api=api, cli=f'ask for {ask:g} GB (the peak plus 25 %): {update} {ask:g}')}",
            ]
        lines.append(f"Full log: {phrase(api='service.get_logs()', cli=f'mldeploy service logs {record.name}')}")
        return "\n".join(lines)

    def logs(self, record: ServiceRecord, num_lines: int) -> str:
        """The container's log (every restart's output, in order)."""
        container = self._container(record)
        if container is None:
            return ""
        return bytes(container.logs(tail=num_lines)).decode(errors="replace")

    def signal_reload(self, record: ServiceRecord) -> int:
        container = self._container(record)
        if container is None or container.status != "running":
            raise not_running(record)
        status = record.status()
        generation = status["generation"] if status else 0
        hand_over(record.config_file)  # rewritten by the control plane: the server's user reads it again
        container.kill(signal="SIGHUP")
        return generation

    def _remove(self, record: ServiceRecord) -> str | None:
        """Stop and remove the service's container; the id of the image it ran."""
        container = self._container(record)
        if container is None:
            return None
        container.stop(timeout=container.attrs["Config"].get("StopTimeout"))
        container.remove(force=True)
        return str(container.attrs["Image"])

    def stop(self, record: ServiceRecord) -> None:
        """Stop and remove the container, then its images."""
        self._remove(record)
        remove_service_images(self.client, [f"mldeploy/{container_name(record)}"], keep=None)
