"""Service records and server configs (they hold the keys) are owner-only from the moment they exist."""

import stat
from pathlib import Path

from mldeploy import InferenceConfig, LocalWebservice, Model, Workspace


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_service_folder_and_the_files_holding_keys_are_owner_only(
    workspace: Workspace, model: Model, project: Path
) -> None:
    config = InferenceConfig(entry_script="score.py")
    service = Model.deploy(workspace, "private", [model], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment()
    folder = workspace.path / "services" / "private"
    assert mode(folder) == 0o700
    assert {name: mode(folder / name) for name in ("service.json", "server.json")} == {
        "service.json": 0o600,
        "server.json": 0o600,
    }
    service.update(inference_config=config)  # written again: still owner-only, no staging file left behind
    assert mode(folder / "server.json") == 0o600
    assert not list(folder.glob(".*.tmp"))
