"""A workspace for the command line's tests: a registered model and two local services (one whose run()
raises), deployed once for the package; ``mldeploy`` runs the CLI as a user types it, in the project folder."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mldeploy import InferenceConfig, LocalWebservice, Model, Workspace
from tests.support.servers import SCRIPTS


@dataclass(frozen=True)
class Project:
    home: Path  # the workspace ($MLDEPLOY_HOME)
    folder: Path  # the user's project: the current directory of every command


def mldeploy(
    project: Project, *args: str, stdin: str | int = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mldeploy ARGS`` in the project folder, on the project's workspace; ``stdin``: text, or a file descriptor."""
    environment = {**os.environ, "MLDEPLOY_HOME": str(project.home), **(env or {})}
    environment.pop("MLDEPLOY_DATABASE_URL", None)
    given = {"stdin": stdin} if isinstance(stdin, int) else {"input": stdin}
    return subprocess.run([sys.executable, "-m", "mldeploy", *args], capture_output=True, text=True, timeout=120,
                          env=environment, cwd=project.folder, **given)  # type: ignore[call-overload]  # fmt: skip


@pytest.fixture(scope="package")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("cli")
    folder = root / "project"
    folder.mkdir()
    for script in ("echo.py", "run_raises.py", "init_raises.py"):
        shutil.copy(SCRIPTS / script, folder / script)
    (folder / "model.pkl").write_bytes(b"not a real model")
    (folder / "env.yml").write_text("name: churn-env\ndependencies:\n  - python=3.11\n  - pip:\n    - six\n")
    saved = os.environ.pop("MLDEPLOY_DATABASE_URL", None)
    workspace = Workspace(root / "workspace")
    model = Model.register(workspace, folder / "model.pkl", "churn")
    for name, script in (("echo-svc", "echo.py"), ("boom-svc", "run_raises.py")):
        Model.deploy(workspace, name, [model], InferenceConfig(entry_script=str(folder / script)),
                     LocalWebservice.deploy_configuration()).wait_for_deployment()  # fmt: skip
    yield Project(workspace.path, folder)
    for service in Workspace(workspace.path).webservices.values():
        service.delete()
    if saved is not None:
        os.environ["MLDEPLOY_DATABASE_URL"] = saved
