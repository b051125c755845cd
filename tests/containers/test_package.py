"""Model.package(generate_dockerfile=True): the context builds with plain `docker build` and the container
answers the seed's request."""

import json
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from mldeploy import Environment, InferenceConfig, Model, Workspace
from tests.support.servers import free_port

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
    context = Path(package.save(tmp_path / "context"))
    assert (context / "Dockerfile").read_text().startswith("FROM mldeploy/base:")
    tag = f"mldeploy-test/package:{uuid.uuid4().hex[:8]}"
    name = tag.replace("/", "-").replace(":", "-")
    built = _docker("build", "--network", "host", "-q", "-t", tag, str(context))
    assert built.returncode == 0, built.stderr[-3000:]
    port = free_port()
    try:
        started = _docker("run", "-d", "--name", name, "--network", "host", "--memory", "512m",
                          "-e", "MLDEPLOY_HOST=127.0.0.1", "-e", f"MLDEPLOY_PORT={port}", tag)  # fmt: skip
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, _docker("logs", name).stdout
            time.sleep(0.2)
        answer = httpx.post(f"http://127.0.0.1:{port}/score", content=SAMPLE, timeout=30)
        assert answer.status_code == 200
        assert len(json.loads(answer.json())["result"]) == 2
        logs = _docker("logs", name)
        assert "Booting worker with pid" in logs.stdout + logs.stderr
    finally:
        _docker("rm", "-f", name)
        _docker("rmi", "-f", tag)
