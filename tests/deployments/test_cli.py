"""`mldeploy deploy` and `mldeploy service ...` as scripts use them: JSON listings and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

from mldeploy import Model, Workspace

SAMPLE = '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}'


def mldeploy(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def test_service_commands(workspace: Workspace, model: Model, project: Path) -> None:
    deployed = mldeploy(workspace, "deploy", "cli-svc", "--model", "my_best_model:1", "--entry-script", "score.py")
    assert deployed.returncode == 0, deployed.stderr
    listed = json.loads(mldeploy(workspace, "service", "list", "-o", "json").stdout)
    assert [(row["name"], row["state"], row["models"]) for row in listed] == [
        ("cli-svc", "Healthy", ["my_best_model:1"])
    ]
    answer = mldeploy(workspace, "service", "run", "cli-svc", SAMPLE)
    assert answer.returncode == 0
    assert "result" in json.loads(json.loads(answer.stdout))
    assert "Booting worker with pid" in mldeploy(workspace, "service", "logs", "cli-svc").stdout
    assert mldeploy(workspace, "service", "reload", "cli-svc").returncode == 0
    assert mldeploy(workspace, "service", "update", "cli-svc", "--workers", "2").returncode == 0
    assert mldeploy(workspace, "service", "delete", "cli-svc").returncode == 0
    assert json.loads(mldeploy(workspace, "service", "list", "-o", "json").stdout) == []


def test_exit_codes(workspace: Workspace, model: Model, project: Path) -> None:
    missing = mldeploy(workspace, "service", "show", "nothing")
    assert (missing.returncode, "No service 'nothing'" in missing.stderr) == (3, True)
    no_model = mldeploy(workspace, "deploy", "svc", "--model", "unknown", "--entry-script", "score.py")
    assert no_model.returncode == 3
    (project / "bad.py").write_text(
        "def init():\n    raise ValueError('no model here')\n\ndef run(data):\n    return data\n"
    )
    failed = mldeploy(workspace, "deploy", "bad-svc", "--entry-script", "bad.py")
    assert failed.returncode == 1
    assert "ValueError: no model here" in failed.stderr
    assert "Traceback (most recent call last)" not in failed.stderr.split("Traceback (last lines):")[0]
    mldeploy(workspace, "service", "delete", "bad-svc")
