"""The files of a model as they will be deployed: walked, checked, and written to the blob store.

A folder's files keep the folder's name on top (``outputs/model.pkl``). Links inside the folder are followed
when they point inside it; a link that points outside (``secret -> /etc/passwd``) is refused, so nothing
from outside the folder is stored or shipped into a deployment.
"""

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import ModelError, UnsafeModelPath
from .blobs import BlobStore

NO_TOP_NAME = ("", ".", "..")  # a folder given as . or .. has no name of its own to keep


@dataclass(frozen=True)
class StagedFile:
    path: str
    sha256: str
    size: int
    executable: bool


def _link_target(link: Path, root: Path) -> Path:
    """Where ``link`` leads, if that is an existing file or folder inside ``root``."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        raise ModelError(
            f"The link {link} in the model folder points to {os.readlink(link)}, which does not exist; remove the "
            "link or put the file it names in its place."
        ) from None
    except (RuntimeError, OSError):  # a loop of links
        raise ModelError(f"The link {link} in the model folder leads to itself; remove it.") from None
    if not target.is_relative_to(root):
        raise UnsafeModelPath(
            f"The link {link} in the model folder points to {target}, outside the folder; copy that file into the "
            "folder instead of linking to it, or remove the link."
        )
    return target


def _folder_files(
    folder: Path, deployed: PurePosixPath, root: Path, chain: tuple[Path, ...]
) -> Iterator[tuple[Path, str]]:
    """(the real file to read, its path as deployed) for every file under ``folder``, in name order."""
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        real = _link_target(entry, root) if entry.is_symlink() else entry.resolve()
        if real.is_dir():
            if real in chain:
                raise ModelError(f"The link {entry} leads back to a folder that holds it; remove the link.")
            yield from _folder_files(entry, deployed / entry.name, root, (*chain, real))
        elif real.is_file():
            yield real, (deployed / entry.name).as_posix()
        else:
            raise ModelError(f"{entry} is not a regular file or folder (a pipe, socket or device); remove it.")


def _files(model_path: Path) -> Iterator[tuple[Path, str]]:
    """(file, path as deployed) for a file, or for every file under a folder (paths keep the top name)."""
    given = Path(os.path.normpath(model_path))
    if given.is_file():
        yield given, given.name
    elif given.is_dir():
        root = given.resolve()
        top = PurePosixPath("" if given.name in NO_TOP_NAME else given.name)
        yield from _folder_files(given, top, root, (root,))
    else:
        raise ModelError(f"The model path {model_path} is not a regular file or folder; give a model file or folder.")


def stage_files(blobs: BlobStore, model_path: Path) -> list[StagedFile]:
    """Write every file of the model to the blob store (durable) before anything is recorded."""
    if not model_path.exists():
        raise ModelError(f"The model path {model_path} does not exist. Give the path of a model file or folder.")
    staged = []
    for file, deployed_path in _files(model_path):
        sha256, size = blobs.put(file)
        staged.append(StagedFile(deployed_path, sha256, size, bool(file.stat().st_mode & stat.S_IXUSR)))
    if not staged:
        raise ModelError(f"The model folder {model_path} holds no file; a model needs at least one.")
    return staged
