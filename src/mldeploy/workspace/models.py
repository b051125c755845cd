"""The model registry: register a file or a folder as a new version, list, find, download, delete."""

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ModelError
from ..wording import phrase
from .blobs import BlobStore
from .locking import write
from .model_files import StagedFile, stage_files
from .names import check_registry_name
from .paths import check_relative, inside
from .schema import ModelFileRow, ModelName, ModelRow
from .versions import locked_counter

LISTED_NAMES = 20  # registered names quoted when a name is not found


def _record(
    session: Session,
    name: str,
    files: Sequence[StagedFile],
    tags: dict[str, Any] | None,
    properties: dict[str, Any] | None,
    description: str | None,
) -> ModelRow:
    counter = locked_counter(session, ModelName, ModelRow, name)
    counter.last_version += 1
    row = ModelRow(
        name=name,
        version=counter.last_version,
        description=description,
        tags=dict(tags or {}),
        properties=dict(properties or {}),
        files=[ModelFileRow(path=f.path, sha256=f.sha256, size=f.size, executable=f.executable) for f in files],
    )
    session.add(row)
    return row


def register(
    blobs: BlobStore,
    writes: sessionmaker[Session],
    model_path: Path,
    name: str,
    tags: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    description: str | None = None,
) -> ModelRow:
    """Register a file or folder as the next version of ``name``: its files are stored (durable) first, then
    one transaction makes the version visible (counter, row, files)."""
    check_registry_name("model", name)
    files = stage_files(blobs, model_path)
    for file in files:
        check_relative(file.path)
    return write(writes, lambda session: _record(session, name, files, tags, properties, description))


def find(sessions: sessionmaker[Session], name: str, version: int | None = None) -> ModelRow:
    """The version asked for (the latest when ``version`` is None); ModelError naming the closest registered name, or
    the versions there are."""
    with sessions() as session:
        query = select(ModelRow).where(ModelRow.name == name)
        query = query.where(ModelRow.version == version) if version is not None else query
        row = session.scalars(query.order_by(ModelRow.version.desc()).limit(1)).first()
        if row is not None:
            return row
        numbers = select(ModelRow.version).where(ModelRow.name == name).order_by(ModelRow.version)
        versions = list(session.scalars(numbers))
        names = [] if versions else sorted(set(session.scalars(select(ModelRow.name))))
    raise ModelError(_not_found(name, version, versions, names))


def _not_found(name: str, version: int | None, versions: list[int], names: list[str]) -> str:
    if versions:
        listed = ", ".join(str(number) for number in versions)
        return f"Model {name!r} has no version {version} (its versions: {listed}); give one of these, or none (latest)."
    by_lower = {known.lower(): known for known in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    guess = f" Did you mean {by_lower[close[0]]!r}?" if close else ""
    shown = names[:LISTED_NAMES] + ([f"… {len(names) - LISTED_NAMES} more"] if len(names) > LISTED_NAMES else [])
    register = phrase(api="Model.register(ws, PATH, NAME)", cli="mldeploy model register PATH --name NAME")
    return (
        f"No model {name!r} in this workspace.{guess} Registered models: {', '.join(shown) or 'none yet'}. "
        f"Check the name, or register the model first: {register}."
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
    """Copy the model's files into ``target_dir``; the path of the file or top folder written. Nothing is
    written when a file would land outside ``target_dir`` or, without ``exist_ok``, on an existing file."""
    for file in row.files:
        destination = inside(target_dir, file.path)
        if destination.exists() and not exist_ok:
            replace = phrase(api="pass exist_ok=True", cli="add --overwrite")
            raise ModelError(f"{destination} already exists; {replace} to replace it.")
    for file in row.files:
        blobs.copy_into(file.sha256, target_dir, file.path, file.executable)
    return target_dir / row.files[0].path.split("/")[0]


def delete(writes: sessionmaker[Session], row: ModelRow) -> None:
    """Forget this version (its blobs stay: they may be shared with other models)."""

    def forget(session: Session) -> None:
        stored = session.get(ModelRow, row.id)
        if stored is None:
            raise ModelError(f"Model '{row.name}:{row.version}' is not registered any more (it was deleted).")
        session.delete(stored)

    write(writes, forget)
