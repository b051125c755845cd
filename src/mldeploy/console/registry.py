"""The models and environments pages: what the workspace registry holds, and which services use each."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..api.workspace import Workspace
from ..environments.build import COMPLETE
from ..workspace import environments, models
from ..workspace.services import load_all


@dataclass
class ModelView:
    name: str
    version: int
    tags: dict[str, str]
    description: str | None
    created: str
    files: list[tuple[str, int]]  # path, bytes
    services: list[str]

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)


@dataclass
class EnvironmentView:
    name: str
    version: int
    python: str
    requirements: list[str]
    notices: list[str]
    built_at: list[str] = field(default_factory=list)  # the environment folders holding it, ready
    services: list[str] = field(default_factory=list)


def model_views(workspace: Workspace) -> list[ModelView]:
    records = load_all(workspace.path)
    return [
        ModelView(
            name=row.name,
            version=row.version,
            tags={str(key): str(value) for key, value in row.tags.items()},
            description=row.description,
            created=row.created_time.strftime("%Y-%m-%d %H:%M"),
            files=[(file.path, file.size) for file in row.files],
            services=[record.name for record in records if f"{row.name}:{row.version}" in record.models],
        )
        for row in models.search(workspace._store.sessions)
    ]


def _built(envs_root: Path) -> dict[tuple[str | None, tuple[str, ...]], list[str]]:
    """The ready environment folders, by what makes them the same: Python version and sorted requirements."""
    found: dict[tuple[str | None, tuple[str, ...]], list[str]] = {}
    for spec_file in sorted(envs_root.glob("*/spec.json")):
        if not (spec_file.parent / COMPLETE).exists():
            continue
        try:
            spec = json.loads(spec_file.read_text())
            key = (spec.get("python"), tuple(sorted(spec.get("requirements", []))))
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        found.setdefault(key, []).append(str(spec_file.parent))
    return found


def environment_views(workspace: Workspace) -> list[EnvironmentView]:
    built = _built(workspace.path / "envs")
    records = load_all(workspace.path)
    return [
        EnvironmentView(
            name=spec.name,
            version=version,
            python=spec.python or "this interpreter",
            requirements=list(spec.requirements),
            notices=list(spec.notices),
            built_at=built.get((spec.python, tuple(sorted(spec.requirements))), []),
            services=[record.name for record in records if record.environment == f"{spec.name}:{version}"],
        )
        for spec, version in environments.latest_all(workspace._store.sessions)
    ]
