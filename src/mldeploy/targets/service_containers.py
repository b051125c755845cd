"""A Docker service's containers: the one that serves, named ``container_name(record)``, and during an update its
successor, started beside it on the same port; the steps of the handover between them.

Each container has a folder of its own in the service's, ``containers/<tag>/``, mounted at
``/var/mldeploy/service``: its copy of the server's config (``server.json``) and its status (``status.json``).
So an old server that restarts during an update reads its own config, and the successor's status is its own.
The service's ``server.json`` is the config of the serving container (a key change rewrites it, then the serving
container's copy), and the service's ``status.json`` is a link to the serving container's status.

The successor is named ``<container_name>-<tag>`` until it takes over: the old one is then renamed the same
way, the successor gets the service's name. A container of the service under another name than the service's
is left over by an update that was killed (an orphan): the next update, reload, start or delete removes it.
When no container of the service's name runs (a kill between the two renames leaves both running), the newest
running container of the service serves.
"""

import contextlib
import hashlib
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

from ..scoring.config import ServerConfig
from ..scoring.reuseport import TAKE_OVER_ENV
from ..workspace.private import private_folder, write_private
from ..workspace.services import ServiceRecord
from .capacity import GIB, SERVICE_LABEL
from .container_policy import (
    DOCKER_HARDENING,
    SERVICE_ENVIRONMENT,
    docker_user,
    hand_over,
    service_user,
    stop_timeout_s,
)
from .package import SERVER_UID

MOUNT = "/var/mldeploy/service"
COMMAND = ["/opt/mldeploy/env/bin/python", "-m", "mldeploy.scoring", f"{MOUNT}/server.json"]
WORKSPACE_LABEL = "mldeploy.workspace"
TAG_LABEL = "mldeploy.container"  # the container's folder: containers/<tag>; absent on containers made before
CONTAINERS = "containers"
DEFAULT_CPU_CORES = 0.1
DEFAULT_MEMORY_GB = 0.5


def container_name(record: ServiceRecord) -> str:
    """Unique on this host: the service's name and its workspace folder."""
    return f"mldeploy-{record.name}-{hashlib.sha256(str(record.path).encode()).hexdigest()[:8]}"


def limits(settings: dict[str, Any]) -> tuple[float, float]:
    """(cpu_cores, memory_gb) with the v1 defaults."""
    return float(settings.get("cpu_cores") or DEFAULT_CPU_CORES), float(settings.get("memory_gb") or DEFAULT_MEMORY_GB)


def of_service(client: Any, record: ServiceRecord) -> list[Any]:
    """Every container of the service, running or not."""
    labels = [f"{SERVICE_LABEL}={record.name}", f"{WORKSPACE_LABEL}={record.path}"]
    return list(client.containers.list(all=True, filters={"label": labels}))


def serving(client: Any, record: ServiceRecord) -> Any:
    """The service's container (None when it has none): the one of the service's name while it runs, else the
    newest running one (an update killed between its renames, or before and its old container died since),
    else the one of the service's name."""
    found = of_service(client, record)
    running = sorted((c for c in found if c.status == "running"), key=_started)
    named = [c for c in found if c.name == container_name(record)]
    return next(iter([c for c in named if c in running] + running[-1:] + named), None)


def _started(container: Any) -> tuple[str, float]:
    """When ``container`` started, in order (the engine's time has 0 to 9 decimals: "…T08:19:37.12Z")."""
    seconds, _, fraction = str(container.attrs["State"]["StartedAt"]).rstrip("Z").partition(".")
    return seconds, float(f"0.{fraction or 0}")


def folder(record: ServiceRecord, container: Any) -> Path | None:
    """The container's own folder (None for a container made before containers had one)."""
    tag = container.labels.get(TAG_LABEL)
    return record.path / CONTAINERS / tag if tag else None


def config_file(record: ServiceRecord, container: Any) -> Path:
    """The config ``container`` reads."""
    own = folder(record, container)
    return own / "server.json" if own else record.config_file


def status_file(record: ServiceRecord, container: Any) -> Path:
    """The status ``container`` writes."""
    own = folder(record, container)
    return own / "status.json" if own else record.status_file


def run(client: Any, record: ServiceRecord, config: ServerConfig, successor: bool) -> Any:
    """Create and start a container of ``record.image`` serving ``config``, in a folder of its own; named as the
    service, or (``successor``) beside the serving one."""
    tag = f"r{record.revision}-{secrets.token_hex(3)}"
    own = private_folder(record.path / CONTAINERS / tag)
    write_private(own / "server.json", config.to_json())
    cpu_cores, memory_gb = limits(record.deployment_config)
    memory = int(memory_gb * GIB)
    host = client.api.create_host_config(
        network_mode="host", nano_cpus=int(cpu_cores * 1e9), mem_limit=memory, memswap_limit=memory,
        restart_policy={"Name": "on-failure"}, binds={str(own): {"bind": MOUNT, "mode": "rw"}}, **DOCKER_HARDENING,
    )  # fmt: skip
    name = f"{container_name(record)}-{tag}" if successor else container_name(record)
    user = docker_user(service_user(record.uid), own, own / "server.json")
    created = client.api.create_container(  # the client's containers.run() cannot set a stop timeout
        record.image, COMMAND, name=name, host_config=host, user=user, stop_timeout=stop_timeout_s(config),
        environment={**SERVICE_ENVIRONMENT, **({TAKE_OVER_ENV: "1"} if successor else {})},
        labels={SERVICE_LABEL: record.name, WORKSPACE_LABEL: str(record.path), TAG_LABEL: tag},
    )  # fmt: skip
    client.api.start(created["Id"])
    return client.containers.get(created["Id"])


def refresh(client: Any, container_id: str) -> Any:
    """``container`` as the engine sees it now; None when it is gone."""
    from docker.errors import NotFound

    try:
        return client.containers.get(container_id)
    except NotFound:
        return None


def promote(record: ServiceRecord, old: Any, successor: Any) -> None:
    """The successor takes the service's name (the old one takes its tag's), and its status is the service's."""
    if old.name == container_name(record):
        old.rename(f"{container_name(record)}-{old.labels[TAG_LABEL]}")
    successor.rename(container_name(record))
    point_status(record, successor)


def point_status(record: ServiceRecord, container: Any) -> None:
    """Link the service's status to ``container``'s (atomically: a reader sees the old link or the new one)."""
    staging = record.status_file.with_name(f".{record.status_file.name}.link")
    staging.unlink(missing_ok=True)
    staging.symlink_to(Path(CONTAINERS, container.labels[TAG_LABEL], "status.json"))
    staging.replace(record.status_file)


def copy_config(record: ServiceRecord, container: Any) -> None:
    """Give ``container`` the service's config as it is now (read again on SIGHUP)."""
    own = config_file(record, container)
    if own != record.config_file:
        write_private(own, record.config_file.read_text())
    hand_over(user_of(container), own)


def user_of(container: Any) -> tuple[int, int]:
    """(uid, gid) ``container`` runs as (the image's user when none was given)."""
    uid, _, gid = str(container.attrs["Config"].get("User") or SERVER_UID).partition(":")
    return int(uid), int(gid or uid)


def discard(record: ServiceRecord, container: Any) -> None:
    """Remove ``container`` at once (it serves nothing), with its folder."""
    container.remove(force=True)
    shutil.rmtree(record.path / CONTAINERS / container.labels[TAG_LABEL], ignore_errors=True)


def remove(record: ServiceRecord, container: Any) -> str:
    """Stop ``container`` (its server finishes the requests it has, within its grace) and remove it, with its
    folder; the id of the image it ran."""
    container.stop(timeout=container.attrs["Config"].get("StopTimeout"))
    container.remove(force=True)
    own = folder(record, container)
    if own:
        shutil.rmtree(own, ignore_errors=True)
    return str(container.attrs["Image"])


def remove_others(client: Any, record: ServiceRecord, keep: Any) -> list[str]:
    """Stop and remove the service's containers but ``keep`` (all when None), and the folders of the removed
    ones; the ids of the images they ran."""
    from docker.errors import APIError

    images = []
    for container in of_service(client, record):
        if keep is None or container.id != keep.id:
            with contextlib.suppress(APIError):  # removed meanwhile
                images.append(remove(record, container))
    kept = {keep.labels.get(TAG_LABEL)} if keep is not None else set()
    for own in (record.path / CONTAINERS).glob("*"):
        if own.name not in kept:
            shutil.rmtree(own, ignore_errors=True)
    return images


def status(record: ServiceRecord, container: Any) -> dict[str, Any] | None:
    """What ``container``'s server last reported (state, generation, failure report); None before it did."""
    try:
        return dict(json.loads(status_file(record, container).read_text()))
    except (OSError, ValueError, TypeError):
        return None
