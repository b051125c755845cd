"""``InferenceConfig``: the scoring script, its source directory and its environment."""

from __future__ import annotations

from dataclasses import dataclass

from .environment import Environment


@dataclass
class InferenceConfig:
    entry_script: str
    source_directory: str | None = None
    environment: Environment | None = None
