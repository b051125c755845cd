"""``azureml.core.model.Model.get_model_path`` for scripts running without azureml-core.

Model files sit as v1 containers lay them out, relative to the app root (the working directory):
``azureml-models/<name>/<version>/<files>``. As in v1, the path returned is relative to the app root.
"""

import difflib
import logging
import os

MODELS_FOLDER = "azureml-models"
TREE_LINE_LIMIT = 40

logger = logging.getLogger("azureml.core.model")


class ModelNotFoundError(Exception):
    """Raised by ``get_model_path`` when nothing matches; the message lists what the model tree holds."""


def _versions(model_folder: str) -> list[int]:
    return sorted(int(entry) for entry in os.listdir(model_folder) if entry.isdigit())


def model_tree_lines(root: str) -> list[str]:
    lines: list[str] = []
    for current, folders, files in os.walk(root):
        folders.sort()
        depth = os.path.relpath(current, root).count(os.sep) + (current != root)
        lines.append("    " * depth + os.path.basename(current) + "/")
        lines.extend("    " * (depth + 1) + name for name in sorted(files))
        if len(lines) >= TREE_LINE_LIMIT:
            return [*lines[:TREE_LINE_LIMIT], "    ... (truncated)"]
    return lines


def _not_found(model_name: str, version: int | None) -> ModelNotFoundError:
    models_root = os.path.abspath(MODELS_FOLDER)
    names = sorted(os.listdir(models_root)) if os.path.isdir(models_root) else []
    wanted = model_name if version is None else f"{model_name} version {version}"
    lines = [f"Model {wanted!r} was not found under {models_root} (nor as ./{model_name})."]
    if names:
        lines.append("The model folder holds:")
        lines.extend(model_tree_lines(models_root))
        close = difflib.get_close_matches(model_name, names, n=1, cutoff=0.5)
        if close:
            lines.append(f"Did you mean {close[0]!r}? Model.get_model_path(model_name={close[0]!r})")
    else:
        lines.append(f"There is no {MODELS_FOLDER}/ folder in {os.getcwd()}: no model was deployed with this service.")
    lines.append(
        f"Fix: pass the registered model's name as deployed (layout {MODELS_FOLDER}/<name>/<version>/<files>), "
        "or deploy the model with the service."
    )
    return ModelNotFoundError("\n".join(lines))


class Model:
    """The part of ``azureml.core.model.Model`` that runs inside a deployment."""

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: object = None) -> str:
        """Return the path of a deployed model's file (or folder), relative to the app root."""
        model_folder = os.path.join(MODELS_FOLDER, model_name)
        logger.debug("Looking for model %s (version %s) in %s", model_name, version, os.path.abspath(model_folder))
        if os.path.isdir(model_folder):
            versions = _versions(model_folder)
            chosen = version if version is not None else (versions[-1] if versions else None)
            if chosen is not None and chosen in versions:
                version_folder = os.path.join(model_folder, str(chosen))
                entries = os.listdir(version_folder)
                path = os.path.join(version_folder, entries[0]) if len(entries) == 1 else version_folder
                logger.debug("Found model path %s", path)
                return path
        if version is None and os.path.exists(model_name):
            logger.debug("Found model path %s (legacy layout)", model_name)
            return model_name
        raise _not_found(model_name, version)
