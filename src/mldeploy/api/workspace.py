"""``Workspace``: a local folder standing in for an Azure ML workspace."""

from pathlib import Path
from typing import TYPE_CHECKING

from ..workspace import models
from ..workspace.workspace import WorkspaceStore

if TYPE_CHECKING:
    from .model import Model
    from .webservice import Webservice


class Workspace:
    """Opens (or creates) the workspace folder: ``path``, else $MLDEPLOY_HOME, else ~/.mldeploy."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._store = WorkspaceStore(path)

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> "Workspace":
        """As in v1; there is no config file to read: the workspace is the folder itself."""
        return cls(path)

    @property
    def path(self) -> Path:
        return self._store.home

    @property
    def models(self) -> dict[str, "Model"]:
        """The latest version of every registered model, by name."""
        from .model import Model

        return {row.name: Model._from_row(self, row) for row in models.search(self._store.sessions, latest=True)}

    @property
    def webservices(self) -> dict[str, "Webservice"]:
        """Every service of this workspace, by name (deployed by any process)."""
        from .webservice import Webservice

        return {service.name: service for service in Webservice.list(self)}

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path)!r})"
