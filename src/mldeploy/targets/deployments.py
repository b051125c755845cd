"""Deploy, update, reload and delete services: the flow shared by the Python API and the CLI.

Everything that can be checked is checked before anything is created; a deployment that fails while
being prepared leaves nothing behind.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..environments.build import python_of
from ..scoring.config import ServerConfig
from ..workspace.schema import ModelRow
from ..workspace.services import ServiceRecord, check_name, load, services_root
from ..workspace.workspace import WorkspaceStore
from . import app_folder
from .base import DeploymentError
from .local import LocalTarget, check_port, free_port

Progress = Callable[[str], None]
Builder = Callable[[Progress], Path | None]  # builds the environment: its folder, or None for this interpreter


@dataclass
class Plan:
    """What a deployment runs: models, code, environment and settings, all resolved."""

    models: list[ModelRow]
    entry_script: str
    source_directory: str | None = None
    environment: str | None = None  # "name:version", for the record
    build_environment: Builder | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # port, workers, debug_errors, ...


def _server_config(record: ServiceRecord, plan: Plan, entry: Path) -> ServerConfig:
    settings = plan.settings
    return ServerConfig(
        entry_script=str(entry),
        app_root=str(record.app_root),
        model_dir=app_folder.model_dir(plan.models) if plan.models else None,
        port=record.port,
        workers=int(settings.get("workers") or 1),
        debug_errors=bool(settings.get("debug_errors", False)),
        python=record.python,
        status_file=str(record.status_file),
        spare_worker=True,
    )


def _prepare(store: WorkspaceStore, record: ServiceRecord, plan: Plan, progress: Progress) -> ServerConfig:
    """Build the environment and lay out the app folder of ``record.revision``."""
    try:
        script, source = app_folder.resolve_entry_script(plan.entry_script, plan.source_directory)
    except FileNotFoundError as error:
        raise DeploymentError(str(error)) from None
    if plan.build_environment is not None:
        environment = plan.build_environment(progress)
        record.python = str(python_of(environment)) if environment else None
    progress("laying out the app folder")
    shutil.rmtree(record.app_root, ignore_errors=True)
    entry = app_folder.copy_code(record.app_root, script, source)
    app_folder.copy_models(record.app_root, store.blobs, plan.models)
    record.entry_script, record.source_directory = str(script), str(source) if source else None
    record.models = [f"{model.name}:{model.version}" for model in plan.models]
    record.environment = plan.environment
    record.deployment_config = dict(plan.settings)
    return _server_config(record, plan, entry)


def deploy(store: WorkspaceStore, name: str, plan: Plan, overwrite: bool, progress: Progress) -> ServiceRecord:
    try:
        check_name(name)
    except ValueError as error:
        raise DeploymentError(str(error)) from None
    folder = services_root(store.home) / name
    if folder.exists():
        if not overwrite:
            raise DeploymentError(
                f"A service named {name!r} already exists. Pass overwrite=True (--overwrite) to replace it, "
                f"or delete it first (`mldeploy service delete {name}`)."
            )
        delete(store, load(store.home, name))
    port = plan.settings.get("port") or free_port()
    check_port(port)
    folder.mkdir(parents=True)
    record = ServiceRecord(name=name, target="local", port=port, folder=str(folder))
    try:
        config = _prepare(store, record, plan, progress)
        LocalTarget().start(record, config)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record


def update(store: WorkspaceStore, record: ServiceRecord, plan: Plan, progress: Progress) -> int:
    """Swap models, code, environment or settings: a new app folder, then a rolling reload. The generation to
    wait for."""
    if plan.settings.get("port") not in (None, record.port):
        raise DeploymentError(
            f"The port of a running service cannot change (it is {record.port}); delete and deploy it again."
        )
    previous = record.app_root
    record.revision += 1
    try:
        config = _prepare(store, record, plan, progress)
    except BaseException:
        shutil.rmtree(record.app_root, ignore_errors=True)
        record.revision -= 1
        raise
    record.config_file.write_text(config.to_json())
    record.save()
    generation = LocalTarget().signal_reload(record)
    record.deployment_config["previous_app"] = str(previous)
    return generation


def finish_update(record: ServiceRecord) -> None:
    """After the new workers are serving: remove the previous app folder."""
    previous = record.deployment_config.pop("previous_app", None)
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
    record.save()


def reload(record: ServiceRecord) -> int:
    """Copy the edited code into the app folder again and replace the workers; the generation to wait for."""
    try:
        script, source = app_folder.resolve_entry_script(record.entry_script, record.source_directory)
    except FileNotFoundError as error:
        raise DeploymentError(str(error)) from None
    app_folder.copy_code(record.app_root, script, source)
    return LocalTarget().signal_reload(record)


def delete(store: WorkspaceStore, record: ServiceRecord) -> None:
    LocalTarget().stop(record)
    shutil.rmtree(record.path, ignore_errors=True)
