"""The model registry: register a file or a folder as a new version, list, find, download, delete."""

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ModelError
from .blobs import BlobStore
from .schema import ModelFileRow, ModelName, ModelRow


@dataclass(frozen=True)
class StagedFile:
    path: str
    sha256: str
    size: int
    executable: bool


def _walk(model_path: Path) -> Iterable[tuple[Path, str]]:
    """(file, path as deployed) for a file or every file under a folder; paths keep the top name."""
    if model_path.is_file():
        yield model_path, model_path.name
        return
    for folder, subfolders, files in os.walk(model_path):
        subfolders.sort()
        for name in sorted(files):
            file = Path(folder) / name
            yield file, file.relative_to(model_path.parent).as_posix()


def stage_files(blobs: BlobStore, model_path: Path) -> list[StagedFile]:
    """Write every file of the model to the blob store (durable) before anything is recorded."""
    if not model_path.exists():
        raise ModelError(f"The model path {model_path} does not exist. Give the path of a model file or folder.")
    staged = []
    for file, deployed_path in _walk(model_path):
        sha256, size = blobs.put(file)
        staged.append(StagedFile(deployed_path, sha256, size, bool(file.stat().st_mode & stat.S_IXUSR)))
    if not staged:
        raise ModelError(f"The model folder {model_path} holds no file; a model needs at least one.")
    return staged


def _next_version(session: Session, name: str) -> int:
    counter = session.get(ModelName, name, with_for_update=True)
    if counter is None:
        counter = ModelName(name=name, last_version=0)
        session.add(counter)
    counter.last_version += 1
    session.flush()
    return counter.last_version


def record(
    sessions: sessionmaker[Session],
    name: str,
    files: Sequence[StagedFile],
    tags: dict[str, Any] | None,
    properties: dict[str, Any] | None,
    description: str | None,
) -> ModelRow:
    """Make the model visible: one transaction (version, row, files). Retries once on a concurrent new name."""
    for attempt in range(2):
        try:
            with sessions.begin() as session:
                row = ModelRow(
                    name=name,
                    version=_next_version(session, name),
                    description=description,
                    tags=dict(tags or {}),
                    properties=dict(properties or {}),
                    files=[
                        ModelFileRow(path=f.path, sha256=f.sha256, size=f.size, executable=f.executable) for f in files
                    ],
                )
                session.add(row)
            return row
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def find(sessions: sessionmaker[Session], name: str, version: int | None = None) -> ModelRow:
    with sessions() as session:
        query = select(ModelRow).where(ModelRow.name == name)
        query = query.where(ModelRow.version == version) if version is not None else query
        row = session.scalars(query.order_by(ModelRow.version.desc()).limit(1)).first()
        if row is not None:
            return row
        names = sorted(set(session.scalars(select(ModelRow.name))))
    wanted = f"{name}:{version}" if version is not None else name
    known = ", ".join(names) if names else "none yet"
    raise ModelError(
        f"No model {wanted!r} in this workspace (registered models: {known}). "
        "Register it with `mldeploy model register PATH --name NAME`, or check the name and version."
    )


def _tags_match(row: ModelRow, tags: Sequence[Any] | None) -> bool:
    """v1 tag filters: 'key' (present) or ['key', 'value'] (equal)."""
    for wanted in tags or ():
        if isinstance(wanted, str):
            if wanted not in row.tags:
                return False
        elif row.tags.get(wanted[0], object()) != wanted[1]:
            return False
    return True


def search(
    sessions: sessionmaker[Session], name: str | None = None, tags: Sequence[Any] | None = None, latest: bool = False
) -> list[ModelRow]:
    with sessions() as session:
        query = select(ModelRow).order_by(ModelRow.name, ModelRow.version.desc())
        if name is not None:
            query = query.where(ModelRow.name == name)
        rows = [row for row in session.scalars(query) if _tags_match(row, tags)]
    if latest:
        newest: dict[str, ModelRow] = {}
        for row in rows:
            newest.setdefault(row.name, row)
        rows = list(newest.values())
    return rows


def download(blobs: BlobStore, row: ModelRow, target_dir: Path, exist_ok: bool = False) -> Path:
    """Copy the model's files into ``target_dir``; the path of the file or top folder written."""
    for file in row.files:
        destination = target_dir / file.path
        if destination.exists() and not exist_ok:
            raise ModelError(f"{destination} already exists; pass exist_ok=True to overwrite it.")
        blobs.copy_to(file.sha256, destination, file.executable)
    return target_dir / row.files[0].path.split("/")[0]


def delete(sessions: sessionmaker[Session], row: ModelRow) -> None:
    """Forget this version (its blobs stay: they may be shared with other models)."""
    with sessions.begin() as session:
        session.delete(session.get(ModelRow, row.id))
