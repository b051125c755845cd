"""`mldeploy deploy --target docker`, `mldeploy service keys` and `mldeploy package` on the real engine."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mldeploy import Model, Workspace
from tests.deployments.test_cli import mldeploy

pytestmark = pytest.mark.slow
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"


def test_deploy_keys_logs_and_delete_a_container(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    deployed = mldeploy(workspace, "deploy", "cli-aci", "-m", "my_best_model", "--entry-script", "echo.py",
                        "--target", "docker", "--cpu", "0.5", "--memory", "0.25", "--auth")  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    shown = json.loads(mldeploy(workspace, "service", "show", "cli-aci", "-o", "json").stdout)[0]
    assert (shown["computeType"], shown["state"], shown["cpuCores"], shown["memoryGb"]) == ("ACI", "Healthy", 0.5, 0.25)
    assert mldeploy(workspace, "service", "run", "cli-aci", '"hi"').stdout.strip() == '"\\"hi\\""'
    keys = mldeploy(workspace, "service", "keys", "cli-aci", "--regen", "secondary").stdout.split()
    assert keys[0] == "primary:" and keys[2] == "secondary:"
    answer = httpx.post(shown["scoringUri"], content='"hi"', headers={"Authorization": f"Bearer {keys[3]}"})
    assert answer.status_code == 200
    assert "Booting worker with pid" in mldeploy(workspace, "service", "logs", "cli-aci").stdout
    local_only = mldeploy(workspace, "deploy", "cli-bad", "--entry-script", "echo.py", "--memory", "1")
    assert local_only.returncode == 2 and "--target docker" in local_only.stderr
    assert mldeploy(workspace, "service", "delete", "cli-aci").returncode == 0


def test_package_builds_an_image_or_writes_its_context(
    docker_client: Any, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    built = mldeploy(workspace, "package", "-m", "my_best_model", "--entry-script", "echo.py",
                     "--tag", "mldeploy-test/cli-package:1")  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "mldeploy-test/cli-package:1"
    image = docker_client.images.get("mldeploy-test/cli-package:1")
    assert image.attrs["Config"]["WorkingDir"] == "/var/azureml-app"
    docker_client.images.remove("mldeploy-test/cli-package:1")
    written = mldeploy(workspace, "package", "-m", "my_best_model", "--entry-script", "echo.py",
                       "--dockerfile", str(tmp_path / "context"))  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "context" / "app" / "echo.py").read_text() == ECHO
    assert (tmp_path / "context" / "models" / "azureml-models" / "my_best_model" / "1" / "model.pkl").is_file()
