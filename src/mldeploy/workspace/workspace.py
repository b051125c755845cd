"""Opening a workspace folder: where it is, its store and its blobs."""

import os
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from .blobs import BlobStore
from .store import open_store

HOME_ENV = "MLDEPLOY_HOME"


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".mldeploy")


class WorkspaceStore:
    """The parts of a workspace that the API and the CLI share."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = (Path(home) if home is not None else default_home()).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.home / "blobs")
        store = open_store(self.home)
        self.sessions: sessionmaker[Session] = store.sessions  # reads
        self.writes: sessionmaker[Session] = store.writes  # through locking.write
