"""The app folder of a deployment, laid out as v1 containers lay out /var/azureml-app:
the source directory's files, and ``azureml-models/<name>/<version>/<files>``."""

import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import DeploymentError, ModelError
from ..wording import phrase
from ..workspace.blobs import BlobStore
from ..workspace.paths import inside
from ..workspace.schema import ModelRow
from ..workspace.services import ServiceRecord

MODELS = "azureml-models"
IGNORED = shutil.ignore_patterns("__pycache__", ".git", ".ipynb_checkpoints", "*.pyc")


def model_dir(models: Sequence[ModelRow]) -> str:
    """AZUREML_MODEL_DIR as v1 sets it: the version folder for one model, the models folder for several."""
    if len(models) == 1:
        return f"{MODELS}/{models[0].name}/{models[0].version}"
    return MODELS


def copy_code(app_root: Path, entry_script: Path, source_directory: Path | None) -> Path:
    """Copy the source directory (or the entry script alone) into ``app_root``; the entry script's new path."""
    app_root.mkdir(parents=True, exist_ok=True)
    if source_directory is None:
        shutil.copy2(entry_script, app_root / entry_script.name)
        return app_root / entry_script.name
    shutil.copytree(source_directory, app_root, ignore=IGNORED, dirs_exist_ok=True)
    return app_root / entry_script.relative_to(source_directory)


def copy_models(app_root: Path, blobs: BlobStore, models: Sequence[ModelRow]) -> None:
    """Write every model file under ``app_root/azureml-models/<name>/<version>``; a name or path that would lead
    out of it (a workspace database altered by hand) stops the deployment."""
    for model in models:
        try:
            folder = inside(app_root / MODELS, f"{model.name}/{model.version}")
            for file in model.files:
                blobs.copy_into(file.sha256, folder, file.path, file.executable)
        except ModelError as error:
            raise DeploymentError(f"Model {model.name!r} version {model.version} cannot be deployed: {error}") from None


def updated_code(
    record: ServiceRecord, entry_script: str | None, source_directory: str | None
) -> tuple[str, str | None]:
    """The entry script and source directory of an update of ``record`` that gives these (None: kept). A new
    entry script is relative to the new source directory, else to the service's; a new source directory alone
    holds the service's entry script at the same place in it."""
    if source_directory is None:
        return entry_script or record.entry_script, record.source_directory
    if entry_script is None:
        script, source = Path(record.entry_script), record.source_directory
        entry_script = str(script.relative_to(source) if source and script.is_relative_to(source) else script.name)
    return entry_script, source_directory


def resolve_entry_script(entry_script: str, source_directory: str | None) -> tuple[Path, Path | None]:
    """(entry script, source directory) as absolute paths; the entry script is relative to the source directory."""
    source = Path(source_directory).resolve() if source_directory else None
    script = (source / entry_script) if source else Path(entry_script).resolve()
    if source is not None and not source.is_dir():
        raise FileNotFoundError(f"The source directory {source} does not exist.")
    if source is not None and not script.resolve().is_relative_to(source):
        raise FileNotFoundError(
            f"The entry script {entry_script} is outside the source directory {source}: give its path inside it."
        )
    if not script.is_file():
        where = f" in the source directory {source}" if source else ""
        relative = phrase(
            api="InferenceConfig(entry_script=...) is relative to source_directory",
            cli="--entry-script is relative to --source-dir",
        )
        raise FileNotFoundError(
            f"The entry script {entry_script} was not found{where}. {relative} when one is given, else to the "
            "current directory."
        )
    return script.resolve(), source
