"""``InferenceConfig``: the scoring script, its source directory and its environment. A deploy needs the
script; an update keeps the service's own of each one left None."""

from __future__ import annotations

from dataclasses import dataclass

from .environment import Environment


@dataclass
class InferenceConfig:
    entry_script: str | None = None
    source_directory: str | None = None
    environment: Environment | None = None
