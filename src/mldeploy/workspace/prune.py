"""What ``mldeploy workspace prune`` removes from a workspace folder: blobs no model version references,
built environments no registered environment or service uses, and staging leftovers of killed
registrations and builds. A dry run finds the same and removes nothing.

Safety. Blobs are judged and removed inside one write transaction that keeps registrations from recording
files meanwhile (SQLite: the write lock; PostgreSQL: ``model_files`` locked in SHARE mode), so a reference
committed before the prune is always seen. A registration writes its blobs before it records them: any file
changed within the grace period (``min_age_s``) is kept, so blobs, environments and staging files a live
registration or build is making are never removed. An environment staging folder is removed only when the
process that made it (its name ends with its pid) is gone.
"""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..environments.build import COMPLETE
from ..environments.spec import EnvironmentSpec
from .blobs import DIGEST
from .locking import write
from .removal import DEFAULT_MIN_AGE_S, Removal
from .schema import EnvironmentRow, ModelFileRow
from .services import load_all
from .workspace import WorkspaceStore

SpecKey = tuple[str | None, tuple[str, ...]]  # what makes two built environments the same, as spec.json says


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum(entry.lstat().st_size for entry in path.rglob("*"))


def _newest_change(path: Path) -> float | None:
    """The latest modification time of ``path`` and, for a folder, of its top entries; None when it vanished
    while being looked at (a registration or a build finished with it meanwhile: it was in use)."""
    try:
        times = [path.lstat().st_mtime]
        if path.is_dir() and not path.is_symlink():
            times += [entry.lstat().st_mtime for entry in path.iterdir()]
    except FileNotFoundError:
        return None
    return max(times)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class Pruner:
    """One prune of one workspace: ``run`` removes (or, dry, only lists) what nothing uses."""

    def __init__(self, store: WorkspaceStore, dry_run: bool, min_age_s: float = DEFAULT_MIN_AGE_S) -> None:
        self.store = store
        self.dry_run = dry_run
        self.cutoff = time.time() - min_age_s
        self.envs_root = store.home / "envs"

    def run(self) -> list[Removal]:
        return [*self.staging(), *write(self.store.writes, self._blobs), *self.environments()]

    def _take(self, kind: str, path: Path) -> Removal:
        removal = Removal(kind, str(path), _size(path))
        if not self.dry_run:
            _remove(path)
        return removal

    def _old(self, path: Path) -> bool:
        changed = _newest_change(path)
        return changed is not None and changed < self.cutoff

    def _blobs(self, session: Session) -> list[Removal]:
        """Under the registry's write lock: every blob no model file references (and old enough) goes."""
        if session.connection().dialect.name == "postgresql":
            session.execute(text(f"LOCK TABLE {ModelFileRow.__tablename__} IN SHARE MODE"))
        referenced = set(session.scalars(select(ModelFileRow.sha256).distinct()))
        removed = []
        for blob in sorted(self.store.blobs.root.glob("*/*")):
            digest = blob.parent.name + blob.name
            if DIGEST.fullmatch(digest) and digest not in referenced and self._old(blob):
                removed.append(self._take("blob", blob))
        return removed

    def staging(self) -> Iterator[Removal]:
        """Half-written blobs of killed registrations (untouched for the grace period); environment folders
        whose builder is gone, or that were never completed."""
        if self.store.blobs.staging.is_dir():
            for leftover in sorted(self.store.blobs.staging.iterdir()):
                if self._old(leftover):
                    yield self._take("staging", leftover)
        for folder in self._env_folders():
            if folder.name.startswith("."):
                if not _builder_alive(folder.name):
                    yield self._take("staging", folder)
            elif not (folder / COMPLETE).exists() and self._old(folder):
                yield self._take("staging", folder)

    def environments(self) -> Iterator[Removal]:
        """Complete environment folders whose spec no registered environment version has, that no service
        runs, and that were not built or reused within the grace period."""
        used_specs, used_folders = self._environments_in_use()
        for folder in self._env_folders():
            if folder.name.startswith(".") or not (folder / COMPLETE).exists() or folder in used_folders:
                continue
            key = _built_key(folder)
            if key is None or key in used_specs:
                continue
            runtimes = folder.glob("lib/python3*/site-packages/mldeploy")  # refreshed each time the folder is reused
            if self._old(folder) and all(self._old(runtime) for runtime in runtimes):
                yield self._take("environment", folder)

    def _env_folders(self) -> list[Path]:
        return sorted(self.envs_root.iterdir()) if self.envs_root.is_dir() else []

    def _environments_in_use(self) -> tuple[set[SpecKey], set[Path]]:
        with self.store.sessions() as session:
            specs = [EnvironmentSpec.from_json(spec) for spec in session.scalars(select(EnvironmentRow.spec))]
        keys = {_key(spec.python, spec.requirements) for spec in specs}
        folders = set()
        for record in load_all(self.store.home):
            if record.python and Path(record.python).is_relative_to(self.envs_root):
                folders.add(self.envs_root / Path(record.python).relative_to(self.envs_root).parts[0])
        return keys, folders


def _key(python: str | None, requirements: tuple[str, ...] | list[str]) -> SpecKey:
    return python, tuple(sorted(requirements))


def _built_key(folder: Path) -> SpecKey | None:
    """The spec a built environment was made from; None when its spec.json cannot be read (then it is kept)."""
    try:
        spec = EnvironmentSpec.from_json((folder / "spec.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _key(spec.python, spec.requirements)


def _builder_alive(staging_name: str) -> bool:
    """Whether the process a staging folder ``.<hash>.<pid>`` is named after still runs (kept if unsure)."""
    pid = staging_name.rpartition(".")[2]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
