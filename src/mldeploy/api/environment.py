"""``Environment``: a conda specification or pip requirements, built locally with uv."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..environments import build as builder
from ..environments.spec import EnvironmentSpec, from_conda_specification, from_pip_requirements
from ..workspace import environments

if TYPE_CHECKING:
    from .workspace import Workspace


class Environment:
    def __init__(self, name: str, spec: EnvironmentSpec | None = None, source: str = "") -> None:
        self.name = name
        self.spec = spec or EnvironmentSpec(name)
        self.source = source or name
        self.version: int | None = None

    @staticmethod
    def from_conda_specification(name: str, file_path: str | Path) -> Environment:
        return Environment(name, from_conda_specification(name, Path(file_path)), str(file_path))

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | Path) -> Environment:
        return Environment(name, from_pip_requirements(name, Path(file_path)), str(file_path))

    @staticmethod
    def get(workspace: Workspace, name: str, version: int | None = None) -> Environment:
        spec, number = environments.get(workspace._store.sessions, name, version)
        environment = Environment(name, spec, f"environment {name}:{number}")
        environment.version = number
        return environment

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        found = {}
        for spec, number in environments.latest_all(workspace._store.sessions):
            found[spec.name] = Environment(spec.name, spec, f"environment {spec.name}:{number}")
            found[spec.name].version = number
        return found

    @property
    def python_version(self) -> str | None:
        return self.spec.python

    @property
    def requirements(self) -> list[str]:
        return list(self.spec.requirements)

    @property
    def notices(self) -> list[str]:
        return list(self.spec.notices)

    def register(self, workspace: Workspace) -> Environment:
        self.version = environments.register(workspace._store.writes, self.spec)
        return self

    def build_local(self, workspace: Workspace, progress: builder.Progress = print) -> Path:
        """Build (or reuse) this environment's virtual environment; its folder."""
        return builder.build(self.spec, workspace.path / "envs", progress, self.source)

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version}, python={self.spec.python!r})"
