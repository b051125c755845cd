"""Stored relative paths, and where they may be written: always inside the folder they belong to.

A registered model's file paths are made by walking its folder; they are checked again when recorded, and
every destination is resolved (following any link already there) before a file is written, so a database
changed by hand cannot make mldeploy write outside a download folder or a deployment's app folder.
"""

from pathlib import Path, PurePosixPath

from ..errors import UnsafeModelPath


def check_relative(path: str) -> str:
    """``path`` if it is a relative path that stays inside its folder; else UnsafeModelPath."""
    parts = PurePosixPath(path).parts
    if not path or "\0" in path or path.startswith("/") or ".." in parts:
        raise UnsafeModelPath(
            f"The model file path {path!r} is absolute or leads outside its folder, where a model's files are "
            "relative paths such as 'outputs/model.pkl'; the workspace database was altered: register the model again."
        )
    return path


def inside(folder: Path, relative: str) -> Path:
    """The resolved destination of ``relative`` under ``folder``; UnsafeModelPath when it resolves outside."""
    root = folder.resolve()
    destination = (root / check_relative(relative)).resolve()
    if not destination.is_relative_to(root) or destination == root:
        raise UnsafeModelPath(
            f"The model path {relative!r} leads to {destination}, outside {root}, so nothing was written there; remove "
            f"the link that leads out of {root}, or register the model again if its record was altered."
        )
    return destination
