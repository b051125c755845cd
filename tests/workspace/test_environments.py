"""Registered environments on both stores: versions only grow when the spec changes."""

from pathlib import Path

import pytest

from mldeploy import Environment, Workspace
from mldeploy.workspace.environments import EnvironmentNotFound


def test_register_get_and_list(workspace: Workspace, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n")
    first = Environment.from_pip_requirements("serving", requirements).register(workspace)
    assert first.version == 1
    assert Environment.from_pip_requirements("serving", requirements).register(workspace).version == 1
    requirements.write_text("numpy\njoblib\n")
    assert Environment.from_pip_requirements("serving", requirements).register(workspace).version == 2
    assert Environment.get(workspace, "serving").requirements == ["numpy", "joblib"]
    assert Environment.get(workspace, "serving", version=1).requirements == ["numpy"]
    assert list(Environment.list(workspace)) == ["serving"]
    with pytest.raises(EnvironmentNotFound, match="registered: serving"):
        Environment.get(workspace, "other")
