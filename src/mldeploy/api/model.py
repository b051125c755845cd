"""``Model``: register, find, list, download and delete models as the v1 SDK does."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..workspace import models
from ..workspace.schema import ModelRow

if TYPE_CHECKING:
    from .workspace import Workspace


class Model:
    """A registered model version. ``Model(ws, name)`` is the latest version; ``version=`` or ``id="name:3"``."""

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        version: int | None = None,
    ) -> None:
        if id is not None:
            name, _, number = id.partition(":")
            version = int(number) if number else version
        if not name:
            raise models.ModelError("Model(workspace, name=...) needs a model name (or id='name:version').")
        self._set(workspace, models.find(workspace._store.sessions, name, version))

    @classmethod
    def _from_row(cls, workspace: Workspace, row: ModelRow) -> Model:
        model = cls.__new__(cls)
        model._set(workspace, row)
        return model

    def _set(self, workspace: Workspace, row: ModelRow) -> None:
        self.workspace = workspace
        self._row = row
        self.name: str = row.name
        self.version: int = row.version
        self.id = f"{row.name}:{row.version}"
        self.tags: dict[str, Any] = dict(row.tags)
        self.properties: dict[str, Any] = dict(row.properties)
        self.description = row.description
        self.created_time: datetime.datetime = row.created_time

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | Path,
        model_name: str,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> Model:
        """Register a file or a folder as the next version of ``model_name``."""
        store = workspace._store
        files = models.stage_files(store.blobs, Path(model_path))
        row = models.record(store.sessions, model_name, files, tags, properties, description)
        return Model._from_row(workspace, row)

    @staticmethod
    def list(
        workspace: Workspace, name: str | None = None, tags: Sequence[Any] | None = None, latest: bool = False
    ) -> list[Model]:
        rows = models.search(workspace._store.sessions, name, tags, latest)
        return [Model._from_row(workspace, row) for row in rows]

    @property
    def files(self) -> list[str]:
        """The model's files as laid out under azureml-models/<name>/<version>/."""
        return [file.path for file in self._row.files]

    def download(self, target_dir: str | Path = ".", exist_ok: bool = False) -> str:
        """Copy the model's files into ``target_dir``; the path of the model file or folder."""
        return str(models.download(self.workspace._store.blobs, self._row, Path(target_dir), exist_ok))

    def delete(self) -> None:
        models.delete(self.workspace._store.sessions, self._row)

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "id": self.id,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "createdTime": self.created_time.isoformat(),
            "files": self.files,
        }

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, "
            f"tags={self.tags}, properties={self.properties})"
        )
