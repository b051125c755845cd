"""The Docker target (the ACI equivalent): the deployment image run as one container with ``--network host``
on 127.0.0.1, CPU and memory limits, and Docker's restart policy (a growing delay before each restart).

A folder of the container's own in the service's is mounted into it (service_containers): the server reads its
config there (so SIGHUP reloads new keys) and writes its status there (so init() failures come back with file,
line and fix). The server runs as a user of the service's own, never root (container_policy, service_uids). A
container that fails init() again and again is a CrashLoopBackOff, restarted while it holds its CPU and memory,
unless the failure is permanent (score.py does not import): then it is not restarted again. One whose worker the
kernel kills for memory is told how much memory to ask for, measured (container_failures says each). An update
starts the new container beside the serving one, on the same port, and stops the old one once the new one
serves: no request fails (scoring/reuseport.py). A container whose server ended cleanly (``docker stop``) is
Stopped, not Failed.
"""

import dataclasses
import shutil
import time
from collections.abc import Callable
from typing import Any

from ..scoring.config import ServerConfig
from ..workspace.blobs import BlobStore
from ..workspace.services import ServiceRecord, load
from . import app_folder
from . import service_containers as containers
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
from .capacity import check_request, host_capacity
from .container_failures import CRASH_LOOP_RESTARTS, crash_loop, ended, gone, logs_of, stop_restarting, what_becomes
from .docker_engine import connect
from .image_build import build_deployment_image
from .keys import keys_for
from .local import check_port
from .server_limits import scoring_limits
from .service_containers import MOUNT, container_name, limits
from .service_image import build_service_image, remove_service_images
from .service_uids import own_uid

DEBUG_PORT = 5678
DEBUG_REQUIREMENTS = ("debugpy>=1.8",)
DEBUG_SCORING_TIMEOUT_MS = 24 * 3600 * 1000  # paused at a breakpoint is not a stuck run()
POLL_S = 0.2
FIRST_UNPRIVILEGED_PORT = 1024
HANDOVER_TIMEOUT_S = 600  # for the successor's init(), as long as a deployment's wait


class DockerTarget:
    def __init__(self) -> None:
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    def _container(self, record: ServiceRecord) -> Any:
        return containers.serving(self.client, record)

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
        extra = DEBUG_REQUIREMENTS if debug else ()
        image_config = build_service_image(self.client, blobs, record, plan, progress, _repository(record), extra)
        record.keys = keys_for(settings, record.keys)
        return dataclasses.replace(
            image_config,
            host="127.0.0.1",
            port=record.port,
            workers=1 if debug else int(settings.get("workers") or 1),
            debug_errors=bool(settings.get("debug_errors", False)),
            legacy_compat=bool(settings.get("legacy_compat", False)),
            **scoring_limits(settings),
            auth_keys=tuple(record.keys),
            init_retries=0,  # Docker restarts the container, with backoff
            status_file=f"{MOUNT}/status.json",
            debug_port=DEBUG_PORT if debug else None,
            scoring_timeout_ms=DEBUG_SCORING_TIMEOUT_MS if debug else image_config.scoring_timeout_ms,
            reuse_port=True,  # the next revision's container shares the port while it takes over
        )

    def start(self, record: ServiceRecord, config: ServerConfig) -> None:
        """(Re)create the service's container from ``record.image``; every container of the service goes first.
        PortInUse when another process listens on the port (checked again here, just before: a server that shares
        ports could otherwise join another service's, deployed meanwhile)."""
        config = dataclasses.replace(config, reuse_port=True)  # made by a version without handovers: from now on
        record.write_config(config)
        previous = containers.remove_others(self.client, record, keep=None)
        check_port(record.port)
        record.uid = own_uid(self.client, record)
        containers.point_status(record, containers.run(self.client, record, config, successor=False))
        record.started = time.time()
        record.save()
        self._remove_images(record, previous)

    def running(self, record: ServiceRecord) -> bool:
        container = self._container(record)
        return container is not None and container.status in ("running", "restarting")

    def apply(self, record: ServiceRecord, config: ServerConfig) -> int:
        """Serve the new revision (``_serve``); a failed one is removed with its image and files."""
        stored = load(record.path.parents[1], record.name)

        def undo() -> None:
            remove_service_images(self.client, [_repository(record)], stored.image)
            shutil.rmtree(record.app_root, ignore_errors=True)

        self._serve(record, config, stored, undo, f"The update of {record.name!r} failed; revision {stored.revision}")
        return 0

    def _serve(
        self, record: ServiceRecord, config: ServerConfig, stored: ServiceRecord, undo: Callable[[], None], failed: str
    ) -> None:
        """Serve ``config`` from ``record.image``. The new container starts beside the serving one and takes the
        port over once ready, then the old one answers what it has and stops: no request fails
        (docs/docker-deployments.md). It replaces the old one instead (a gap of init()'s time) when that one
        cannot hand over (not healthy, made before handovers, a debugger on either side) or the host has no room
        for both. A new container that does not become ready is removed, ``undo`` is called, and the service is
        as ``stored``: DeploymentError headed ``failed``."""
        config = dataclasses.replace(config, reuse_port=True)
        old = self._container(record)
        if not self._can_hand_over(record, stored, old, config):
            self.start(record, config)
            return
        containers.remove_others(self.client, record, keep=old)
        started = time.time()
        record.uid = containers.user_of(old)[0]  # only sockets of one user share a port
        successor = containers.run(self.client, record, config, successor=True)
        try:
            self._await(record, successor.id, HANDOVER_TIMEOUT_S, lambda step: None)
        except BaseException as error:
            containers.discard(record, successor)
            undo()
            vars(record).update(vars(stored))
            if isinstance(error, DeploymentError):
                raise DeploymentError(f"{failed} keeps serving.\n{error}") from None
            raise
        containers.promote(record, old, successor)
        record.write_config(config)
        record.started = started
        record.save()
        self._remove_images(record, [containers.remove(record, old)])

    def _can_hand_over(self, record: ServiceRecord, stored: ServiceRecord, old: Any, config: ServerConfig) -> bool:
        if old is None or containers.TAG_LABEL not in old.labels or old.status != "running":
            return False
        if config.debug_port is not None or stored.deployment_config.get("debug") or not healthy(record.port):
            return False
        cpu_cores, memory_gb = limits(record.deployment_config)
        room = host_capacity(self.client)  # the serving container included: both hold their limits a moment
        return cpu_cores <= room.free_cpus and memory_gb <= room.free_memory_gb

    def reload(self, record: ServiceRecord) -> int:
        """Copy the edited code into the build context, rebuild (only the code layer changes) and serve it
        (``_serve``); when it does not start, the image tag goes back to the code that keeps serving."""
        try:
            script, source = app_folder.resolve_entry_script(record.entry_script, record.source_directory)
        except FileNotFoundError as error:
            raise DeploymentError(str(error)) from None
        app_folder.copy_code(record.app_root / "app", script, source)
        assert record.image is not None
        serving = self._container(record)
        build_deployment_image(self.client, record.app_root, record.image, lambda step: None, record.path / "build.log")

        def undo() -> None:
            assert record.image is not None and serving is not None
            rebuilt = self.client.images.get(record.image).id
            repository, _, tag = record.image.rpartition(":")
            self.client.api.tag(serving.attrs["Image"], repository, tag, force=True)
            remove_service_images(self.client, [repository], record.image, rebuilt)

        config = ServerConfig.from_file(str(record.config_file))
        self._serve(record, config, load(record.path.parents[1], record.name), undo,
                    f"The reload of {record.name!r} failed; the code it served")  # fmt: skip
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
        if state["Status"] == "exited" and state["ExitCode"] == 0:
            return ServiceState.STOPPED
        if stop_restarting(record, container) or container.attrs["RestartCount"] >= CRASH_LOOP_RESTARTS:
            return ServiceState.FAILED
        return ServiceState.FAILED if state["Status"] in ("exited", "dead") else ServiceState.TRANSITIONING

    def wait(self, record: ServiceRecord, timeout_s: float, progress: Progress, generation: int = 0) -> None:
        """Until the server (generation > ``generation``) is ready; DeploymentError with the cause as soon as
        the container crash-loops or stops, without waiting for the timeout, and what becomes of the container."""
        container = self._container(record)
        if container is None:
            raise gone(record)
        try:
            self._await(record, container.id, timeout_s, progress, generation)
        except DeploymentError as error:
            restarts = what_becomes(self.client, record, container.id)
            if restarts is None:
                raise
            raise DeploymentError(f"{error}\n{restarts}") from None

    def _await(
        self, record: ServiceRecord, container_id: str, timeout_s: float, progress: Progress, generation: int = 0
    ) -> None:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            container = containers.refresh(self.client, container_id)
            if container is None:
                raise gone(record)
            status = containers.status(record, container)
            fresh = status is not None and status["generation"] > generation
            if fresh and status["state"] == "ready" and healthy(record.port):
                return
            restarts = int(container.attrs["RestartCount"])
            report = status.get("report") if status else None
            if generation > 0 and fresh and status["state"] == "failed":
                log = logs_of(container, 30)
                raise DeploymentError(failure_message(record, report, log, f"Reloading {record.name!r} failed."))
            if generation == 0 and restarts >= CRASH_LOOP_RESTARTS:
                raise DeploymentError(crash_loop(self.client, record, container, report))
            if container.attrs["State"]["Status"] in ("exited", "dead"):
                raise DeploymentError(ended(record, container, report))
            restarted = f", {restarts} restarts" if restarts else ""
            progress(f"waiting for init() ({time.monotonic() - started:.0f} s{restarted})")
            time.sleep(POLL_S)
        raise DeploymentError(
            f"Service {record.name!r} was not healthy after {timeout_s:.0f} s (init() still running?). "
            f"See `mldeploy service logs {record.name}`."
        )

    def logs(self, record: ServiceRecord, num_lines: int) -> str:
        """The container's log (every restart's output, in order)."""
        container = self._container(record)
        return "" if container is None else logs_of(container, num_lines)

    def signal_reload(self, record: ServiceRecord) -> int:
        container = self._container(record)
        if container is None or container.status != "running":
            raise not_running(record)
        status = containers.status(record, container)
        generation = status["generation"] if status else 0
        containers.copy_config(record, container)  # rewritten by the control plane: the server's user reads it
        container.kill(signal="SIGHUP")
        return generation

    def stop(self, record: ServiceRecord) -> None:
        """Stop and remove the service's containers, then its images."""
        containers.remove_others(self.client, record, keep=None)
        remove_service_images(self.client, [_repository(record)], keep=None)

    def _remove_images(self, record: ServiceRecord, previous: list[str]) -> None:
        """The service's images but the one it runs, and those its removed containers ran (once untagged)."""
        for image in previous or [None]:
            remove_service_images(self.client, [_repository(record)], record.image, image)


def _repository(record: ServiceRecord) -> str:
    """Where the service's images are tagged, one tag per revision."""
    return f"mldeploy/{container_name(record)}"
