"""Deploy, update, reload and delete services: the flow shared by the Python API and the CLI, whatever the
target (local processes, Docker containers, Kubernetes).

Everything that can be checked is checked before anything is created; a deployment that fails while
being prepared leaves nothing behind.

Changes to one service (deploy, update, reload, keys, delete) run one at a time, whichever process makes
them: deploy() claims the name itself, and again while its service is awaited (``awaiting()``); the other
changes run inside ``changing()``. Of deploys of one name run together, the first to claim it wins: the
others wait for it, then refuse, whether they would have replaced its service or been told it exists.
"""

import dataclasses
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DockerUnavailable, ServiceNotFound
from ..scoring.config import ServerConfig
from ..wording import phrase
from ..workspace.private import private_folder
from ..workspace.services import DEPLOYING, ServiceRecord, check_name, claim, load, load_all, services_root
from ..workspace.workspace import WorkspaceStore
from . import app_folder
from .base import DeploymentError, Plan, Progress, Target
from .local import LocalTarget, PortInUse, free_port, stop_strays

TARGETS = ("local", "docker", "kubernetes")
RESTARTABLE = ("local", "docker")  # a Kubernetes cluster restarts its pods itself
PORT_ATTEMPTS = 5  # a port picked for the user and taken by another process before the server bound it
GIVEN_KEYS = ("primary_key", "secondary_key")  # a deploy's keys; the record's are the ones served now


def target_of(kind: str) -> Target:
    if kind == "docker":
        from .container import DockerTarget

        return DockerTarget()
    if kind == "kubernetes":
        from .cluster import KubernetesTarget

        return KubernetesTarget()
    if kind == "local":
        return LocalTarget()
    raise DeploymentError(f"Deployments to {kind!r} are not supported yet; the targets are: {', '.join(TARGETS)}.")


def _prepare(
    store: WorkspaceStore, target: Target, record: ServiceRecord, plan: Plan, progress: Progress
) -> ServerConfig:
    """Record what the plan deploys and make ``record.revision``'s files; the server's config (the target
    writes it when it starts or applies it)."""
    try:
        script, source = app_folder.resolve_entry_script(plan.entry_script, plan.source_directory)
    except FileNotFoundError as error:
        raise DeploymentError(str(error)) from None
    record.entry_script, record.source_directory = str(script), str(source) if source else None
    record.models = [f"{model.name}:{model.version}" for model in plan.models]
    record.environment = plan.environment
    record.deployment_config = dict(plan.settings)
    return target.prepare(store.blobs, record, plan, progress)


@contextmanager
def changing(home: Path, name: str, waiting: Progress) -> Iterator[ServiceRecord]:
    """Claim service ``name`` (waiting while another process changes it) and give its record as stored now:
    the caller's copy may be stale, or the service gone (ServiceNotFound)."""
    with claim(home, name, waiting):
        yield load(home, name)


def deploy(
    store: WorkspaceStore, name: str, plan: Plan, overwrite: bool, progress: Progress, kind: str = "local"
) -> ServiceRecord:
    """Make service ``name`` (with ``overwrite``, in place of the service of that name). A deploy of a name that
    another process is deploying waits for it, then refuses when that one made the service."""
    try:
        check_name(name)
    except ValueError as error:
        raise DeploymentError(str(error)) from None
    with claim(store.home, name, progress, DEPLOYING) as waited_for:
        made = (services_root(store.home) / name / "service.json").exists()
        if waited_for is not None and waited_for.doing == DEPLOYING and made:
            raise DeploymentError(_lost(name, overwrite))
        return _deploy(store, name, plan, overwrite, progress, kind)


def _lost(name: str, overwrite: bool) -> str:
    """Why a deploy that waited for another deploy of ``name`` refuses."""
    again = phrase(api="Model.deploy(..., overwrite=True) again", cli=f"mldeploy deploy {name} ... --overwrite again")
    made = "another deploy of it was in progress while this one waited, and has made it"
    if not overwrite:
        return already_exists(name, f": {made}")
    return (
        f"Service {name!r} was not replaced: {made}. This deploy changed nothing rather than replace a service "
        f"deployed meanwhile; to replace it, run {again}."
    )


def already_exists(name: str, how: str = "") -> str:
    """The refusal of a deploy without overwrite of a name taken (``how``: by whom)."""
    return f"A service named {name!r} already exists{how}. " + phrase(
        api=f"Pass overwrite=True to replace it, or delete it first (ws.webservices[{name!r}].delete()).",
        cli=f"Add --overwrite to replace it, or delete it first: mldeploy service delete {name}",
    )


@contextmanager
def awaiting(home: Path, record: ServiceRecord, progress: Progress) -> Iterator[None]:
    """Hold the name of service ``record``, just deployed by this process, while it is awaited: another deploy
    of it waits, then refuses, as while it was made. DeploymentError when another process replaced or deleted it
    in between."""
    with claim(home, record.name, progress, DEPLOYING):
        try:
            replaced = load(home, record.name).deploy_id != record.deploy_id
        except ServiceNotFound:
            raise DeploymentError(
                f"Service {record.name!r} was deleted by another process before it became healthy."
            ) from None
        if replaced:
            raise DeploymentError(
                f"Service {record.name!r} was replaced by another deploy of it before this one became healthy: "
                "that deploy's service is the one serving."
            )
        yield


def _deploy(
    store: WorkspaceStore, name: str, plan: Plan, overwrite: bool, progress: Progress, kind: str
) -> ServiceRecord:
    folder = services_root(store.home) / name
    kept = _clear(store.home, name, overwrite)
    target = target_of(kind)
    port = _port(target, plan.settings, kept)
    private_folder(folder)
    record = ServiceRecord(name=name, target=kind, port=port, folder=str(folder), deploy_id=secrets.token_hex(8))
    try:
        _start(
            target, record, _prepare(store, target, record, plan, progress), port_given=bool(plan.settings.get("port"))
        )
    except BaseException:
        target.stop(record)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record


def _clear(home: Path, name: str, overwrite: bool) -> int | None:
    """Make way for service ``name``: remove a leftover folder, and with ``overwrite`` the service of that name
    (else refuse); the replaced service's port."""
    folder = services_root(home) / name
    if folder.exists() and not (folder / "service.json").exists():
        stop_strays(folder)  # left by a deployer killed before it saved the record: no live deployer holds the name
        shutil.rmtree(folder)
    if not folder.exists():
        return None
    if not overwrite:
        raise DeploymentError(already_exists(name))
    replaced = load(home, name)
    delete(replaced)
    return replaced.port


def _port(target: Target, settings: dict[str, Any], kept: int | None) -> int:
    """The port asked for; else the replaced service's while it is free; else a free one. Refused when taken."""
    given = settings.get("port")
    if not given and kept:
        try:
            target.admit(settings, kept, None)
            return kept
        except PortInUse:
            pass  # taken by another process since the replaced service let it go
    port = int(given or free_port())
    target.admit(settings, port, None)
    return port


def _start(target: Target, record: ServiceRecord, config: ServerConfig, port_given: bool) -> None:
    """Start the server; when another process takes a port picked for the user first, start it on another."""
    attempts = 1 if port_given else PORT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            target.start(record, config)
            return
        except PortInUse:
            target.stop(record)
            if attempt == attempts:
                raise
        record.port = free_port()
        config = dataclasses.replace(config, port=record.port)


def export(store: WorkspaceStore, name: str, plan: Plan, folder: Path, progress: Progress) -> list[Path]:
    """Build (and push) the image, then write the Kubernetes objects as YAML into ``folder``; no cluster needed."""
    from .cluster import KubernetesTarget
    from .kube_manifests import export as write_manifests

    try:
        check_name(name)
    except ValueError as error:
        raise DeploymentError(str(error)) from None
    target = KubernetesTarget()
    with tempfile.TemporaryDirectory(prefix="mldeploy-export-") as scratch:
        record = ServiceRecord(name=name, target="kubernetes", port=0, folder=scratch)
        config = _prepare(store, target, record, plan, progress)
        return write_manifests(target.objects(record, config), folder)


def updated_settings(record: ServiceRecord, given: dict[str, Any]) -> dict[str, Any]:
    """The settings of service ``record`` with ``given`` changed: what is not given is kept, the keys as served
    now (a key regenerated since the deploy is not given back)."""
    kept = {setting: None if setting in GIVEN_KEYS else value for setting, value in record.deployment_config.items()}
    return kept | given


def update(store: WorkspaceStore, record: ServiceRecord, plan: Plan, progress: Progress) -> int:
    """Swap models, code, environment or settings in a new revision, then apply it. The generation to wait for."""
    fixed = {"port": record.port, "namespace": record.deployment_config.get("namespace")}
    for setting, value in fixed.items():
        if plan.settings.get(setting) not in (None, value):
            raise DeploymentError(
                f"The {setting} of a running service cannot change (it is {value}); delete and deploy it again."
            )
    target = target_of(record.target)
    target.admit(plan.settings, record.port, record)
    previous = record.app_root
    record.revision += 1
    try:
        config = _prepare(store, target, record, plan, progress)
    except BaseException:
        shutil.rmtree(record.app_root, ignore_errors=True)
        record.revision -= 1
        raise
    generation = target.apply(record, config)
    record.deployment_config["previous_app"] = str(previous)
    return generation


def finish_update(record: ServiceRecord) -> None:
    """After the new revision is serving: remove the previous one's files."""
    previous = record.deployment_config.pop("previous_app", None)
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
    record.save()


def reload(record: ServiceRecord) -> int:
    """Copy the edited code again and restart the scoring script; the generation to wait for."""
    return target_of(record.target).reload(record)


def start(home: Path, name: str, progress: Progress, timeout_s: float) -> bool:
    """Start service ``name`` again when its server is not running (it died, or the machine restarted): the same
    code, models, settings and port, no rebuild. Returns once it is healthy: True, or False when it was running;
    DeploymentError with the cause when it cannot start or does not become healthy."""
    with changing(home, name, progress) as record:
        if record.target not in RESTARTABLE:
            raise DeploymentError(
                f"Service {name!r} runs on Kubernetes, whose cluster restarts its pods itself; see why it is not "
                "healthy: " + phrase(api="service.diagnose()", cli=f"mldeploy diagnose {name}") + "."
            )
        target = target_of(record.target)
        if target.running(record):
            return False
        try:
            target.admit(record.deployment_config, record.port, None)
        except PortInUse:
            again = phrase(api="Model.deploy(..., overwrite=True)", cli=f"mldeploy deploy {name} ... --overwrite")
            raise PortInUse(
                f"Port {record.port} of service {name!r} is now used by another process: stop that process, or "
                f"deploy the service again ({again}): it then gets a free port."
            ) from None
        try:
            config = ServerConfig.from_file(str(record.config_file))
        except (OSError, ValueError, TypeError):
            raise DeploymentError(f"The files of service {name!r} are damaged or gone; deploy it again.") from None
        progress(f"starting service {name}")
        target.start(record, config)
        target.wait(record, timeout_s, progress)
        return True


def start_all(home: Path, progress: Progress, timeout_s: float) -> dict[str, str | None]:
    """Start every local and Docker service of the workspace whose server is not running (after a restart of the
    machine): by name, None for each started and healthy, else the cause. Services running already are left out."""
    started: dict[str, str | None] = {}
    for record in load_all(home):
        if record.target not in RESTARTABLE:
            continue
        try:
            if start(home, record.name, progress, timeout_s):
                started[record.name] = None
        except ServiceNotFound:
            continue  # deleted meanwhile
        except (DeploymentError, DockerUnavailable) as error:
            started[record.name] = str(error)
    return started


def delete(record: ServiceRecord) -> None:
    """Stop the service and remove its folder (the name's claim, outside the folder, stays)."""
    target_of(record.target).stop(record)
    shutil.rmtree(record.path, ignore_errors=True)


def set_keys(record: ServiceRecord, keys: list[str]) -> int:
    """Serve with ``keys`` from now on (the server reads its config again); the generation to wait for."""
    config = dataclasses.replace(ServerConfig.from_file(str(record.config_file)), auth_keys=tuple(keys))
    record.keys = keys
    record.write_config(config)
    record.save()
    return target_of(record.target).signal_reload(record)
