"""Deploy, update, reload and delete services: the flow shared by the Python API and the CLI, whatever the
target (local processes, Docker containers, Kubernetes).

Everything that can be checked is checked before anything is created; a deployment that fails while
being prepared leaves nothing behind.
"""

import dataclasses
import shutil
import tempfile
from pathlib import Path

from ..scoring.config import ServerConfig
from ..workspace.private import private_folder
from ..workspace.services import ServiceRecord, check_name, load, services_root
from ..workspace.workspace import WorkspaceStore
from . import app_folder
from .base import DeploymentError, Plan, Progress, Target
from .local import LocalTarget, free_port

TARGETS = ("local", "docker", "kubernetes")


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


def deploy(
    store: WorkspaceStore, name: str, plan: Plan, overwrite: bool, progress: Progress, kind: str = "local"
) -> ServiceRecord:
    try:
        check_name(name)
    except ValueError as error:
        raise DeploymentError(str(error)) from None
    folder = services_root(store.home) / name
    if folder.exists() and not (folder / "service.json").exists():
        shutil.rmtree(folder)  # left by a deployment that was killed before it started anything
    if folder.exists():
        if not overwrite:
            raise DeploymentError(
                f"A service named {name!r} already exists. Pass overwrite=True (--overwrite) to replace it, "
                f"or delete it first (`mldeploy service delete {name}`)."
            )
        delete(load(store.home, name))
    target = target_of(kind)
    port = plan.settings.get("port") or free_port()
    target.admit(plan.settings, port, None)
    private_folder(folder)
    record = ServiceRecord(name=name, target=kind, port=port, folder=str(folder))
    try:
        target.start(record, _prepare(store, target, record, plan, progress))
    except BaseException:
        target.stop(record)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record


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


def update(store: WorkspaceStore, record: ServiceRecord, plan: Plan, progress: Progress) -> int:
    """Swap models, code, environment or settings in a new revision, then apply it. The generation to wait for."""
    if plan.settings.get("port") not in (None, record.port):
        raise DeploymentError(
            f"The port of a running service cannot change (it is {record.port}); delete and deploy it again."
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


def delete(record: ServiceRecord) -> None:
    target_of(record.target).stop(record)
    shutil.rmtree(record.path, ignore_errors=True)


def set_keys(record: ServiceRecord, keys: list[str]) -> int:
    """Serve with ``keys`` from now on (the server reads its config again); the generation to wait for."""
    config = dataclasses.replace(ServerConfig.from_file(str(record.config_file)), auth_keys=tuple(keys))
    record.keys = keys
    record.write_config(config)
    record.save()
    return target_of(record.target).signal_reload(record)
