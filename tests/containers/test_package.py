"""Model.package(generate_dockerfile=True): the context builds with plain `docker build` and the container,
given the package's key at run time, answers the seed's request."""

import json
import stat
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from mldeploy import Environment, InferenceConfig, Model, Workspace
from tests.containers.test_cli import served

pytestmark = pytest.mark.slow
SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]})


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=900)


def test_the_generated_dockerfile_builds_and_serves(
    docker_client: object, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "requirements.txt").write_text("numpy\nscikit-learn\njoblib\nazureml-defaults\n")
    environment = Environment.from_pip_requirements("env", "requirements.txt")
    package = Model.package(workspace, [model], InferenceConfig("score.py", environment=environment), True)
    assert package.key is not None and package.key_file is not None
    context = Path(package.save(tmp_path / "context"))
    assert (context / "Dockerfile").read_text().startswith("FROM mldeploy/base:")
    pip_conf = context / "mldeploy-build" / "environment" / "pip.conf"
    assert stat.S_IMODE(pip_conf.stat().st_mode) == 0o600, "it may hold an index's credentials"
    tag = f"mldeploy-test/package:{uuid.uuid4().hex[:8]}"
    built = _docker("build", "--network", "host", "-q", "-t", tag, str(context))
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        assert "/etc/pip.conf" not in _docker("history", "--no-trunc", tag).stdout, "pip settings stay in their stage"
        with served(tag, package.key_file) as url:
            answer = httpx.post(url, content=SAMPLE, headers={"Authorization": f"Bearer {package.key}"}, timeout=30)
            assert answer.status_code == 200
            assert len(json.loads(answer.json())["result"]) == 2
    finally:
        _docker("rmi", "-f", tag)
