"""`mldeploy deploy --target docker`, `mldeploy service keys` and `mldeploy package` on the real engine."""

import contextlib
import json
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mldeploy import Model, Workspace
from mldeploy.targets.base import healthy
from tests.cli.test_exit_codes import python_in
from tests.deployments.test_cli import mldeploy
from tests.support.servers import free_port

pytestmark = pytest.mark.slow
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
HUNGRY = ECHO.replace("    pass\n", "    global blob\n    blob = b'x' * (300 * 2**20)  # resident: 300 MiB\n")


def test_too_little_memory_then_the_advised_update_as_written_then_keys_logs_and_delete(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "hungry.py").write_text(HUNGRY)
    failed = mldeploy(workspace, "deploy", "cli-aci", "-m", "my_best_model", "--entry-script", "hungry.py",
                      "--target", "docker", "--cpu", "0.5", "--memory", "0.15")  # fmt: skip
    assert failed.returncode == 1 and "not enough memory" in failed.stderr
    assert python_in(failed.stderr) == [], "advice in commands and flags"
    advised = re.search(r"mldeploy service update cli-aci --memory [\d.]+", failed.stderr)
    assert advised, failed.stderr
    updated = mldeploy(workspace, *advised.group(0).split()[1:], "--auth")
    assert updated.returncode == 0, updated.stderr
    shown = json.loads(mldeploy(workspace, "service", "show", "cli-aci", "-o", "json").stdout)[0]
    assert (shown["computeType"], shown["state"], shown["cpuCores"], shown["authEnabled"]) == (
        "ACI",
        "Healthy",
        0.5,
        True,
    )
    assert shown["memoryGb"] == float(advised.group(0).rsplit(" ", 1)[1])
    assert mldeploy(workspace, "service", "run", "cli-aci", '"hi"').stdout.strip() == '"\\"hi\\""'
    # a key change keeps the workers (the front alone reads keys): the advice (one worker's peak) still fits
    keys = mldeploy(workspace, "service", "keys", "cli-aci", "--regen", "Secondary").stdout.split()
    assert keys[0] == "primary:" and keys[2] == "secondary:"
    answer = httpx.post(shown["scoringUri"], content='"hi"', headers={"Authorization": f"Bearer {keys[3]}"})
    assert answer.status_code == 200
    assert "Booting worker with pid" in mldeploy(workspace, "service", "logs", "cli-aci").stdout
    local_only = mldeploy(workspace, "deploy", "cli-bad", "--entry-script", "hungry.py", "--memory", "1")
    assert local_only.returncode == 2 and "--target docker" in local_only.stderr
    too_big = mldeploy(workspace, "deploy", "cli-huge", "--entry-script", "hungry.py", "--target", "docker",
                       "--cpu", "1000", "--memory", "100000")  # fmt: skip
    assert too_big.returncode == 1 and python_in(too_big.stderr) == [], too_big.stderr
    assert mldeploy(workspace, "service", "delete", "cli-aci").returncode == 0


def test_package_builds_an_image_or_writes_its_context(
    docker_client: Any, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    built = mldeploy(workspace, "package", "-m", "my_best_model", "--entry-script", "echo.py",
                     "--tag", "mldeploy-test/cli-package:1")  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "mldeploy-test/cli-package:1"
    assert "The image mldeploy-test/cli-package:1 is in this machine's Docker engine only" in built.stderr
    assert ("docker tag mldeploy-test/cli-package:1 REGISTRY/mldeploy-test/cli-package:1 && docker push "
            "REGISTRY/mldeploy-test/cli-package:1") in built.stderr  # fmt: skip
    key = built.stderr.split("mode 0600): ")[1].split()[0]
    key_file = Path(built.stderr.split("kept in ")[1].split(",")[0])
    assert key_file.read_text() == f"MLDEPLOY_AUTH_KEYS={key}\n" and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"docker run --network host --env-file {key_file} mldeploy-test/cli-package:1" in built.stderr
    image = docker_client.images.get("mldeploy-test/cli-package:1")
    assert (image.attrs["Config"]["WorkingDir"], image.attrs["Config"]["User"]) == ("/var/azureml-app", "10001:10001")
    try:
        keyless = docker_client.containers.run(image.id, network_mode="host", detach=True)
        assert keyless.wait(timeout=60)["StatusCode"] == 2, "no key given: the image refuses to start"
        assert b"MLDEPLOY_AUTH_KEYS=KEY" in keyless.logs()
        keyless.remove()
        with served(image.id, key_file) as url:
            assert httpx.post(url, content='"hi"').status_code == 401
            assert httpx.post(url, content='"hi"', headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert key.encode() not in subprocess.run(["docker", "history", "--no-trunc", image.id],
                                                  capture_output=True, check=True).stdout  # fmt: skip
    finally:
        docker_client.images.remove("mldeploy-test/cli-package:1", force=True)
    written = mldeploy(workspace, "package", "-m", "my_best_model", "--entry-script", "echo.py",
                       "--dockerfile", str(tmp_path / "context"), "--no-auth")  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert "without a key (--no-auth)" in written.stderr and "--env-file" not in written.stderr
    assert f"docker build --network host -t IMAGE {tmp_path / 'context'}\n" in written.stdout, "one line, to copy"
    base = (tmp_path / "context" / "Dockerfile").read_text().split()[1]
    assert f"builds FROM {base}, which is in this machine's Docker engine only" in written.stderr
    assert f"docker tag {base} REGISTRY/{base} && docker push REGISTRY/{base}" in written.stderr
    assert "exec" not in (tmp_path / "context" / "Dockerfile").read_text().rsplit("\nCMD ", 1)[1]
    assert (tmp_path / "context" / "app" / "echo.py").read_text() == ECHO
    assert (tmp_path / "context" / "models" / "azureml-models" / "my_best_model" / "1" / "model.pkl").is_file()


@contextlib.contextmanager
def served(image: str, key_file: Path) -> Iterator[str]:
    """``image`` run as `mldeploy package` says (with the key file), on a free port of 127.0.0.1; its /score."""
    port = free_port()
    name = f"mldeploy-test-package-{port}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host", "--env-file", str(key_file),
                    "-e", "MLDEPLOY_HOST=127.0.0.1", "-e", f"MLDEPLOY_PORT={port}", image], check=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not healthy(port):
            assert time.monotonic() < deadline, subprocess.run(["docker", "logs", name], capture_output=True).stderr
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/score"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_exported_manifests_say_their_image_is_local_and_how_to_push_it(
    docker_client: Any, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    folder = tmp_path / "manifests"
    exported = mldeploy(workspace, "deploy", "cli-export", "-m", "my_best_model", "--entry-script", "echo.py",
                        "--target", "kubernetes", "--export", str(folder))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert f"apply them with: kubectl apply -f {folder}\n" in exported.stdout, "one line, to copy"
    image = re.search(r"image: (\S+)", (folder / "02-deployment-cli-export.yaml").read_text())
    assert image and f"The service image {image[1]} is in this machine's Docker engine only" in exported.stderr
    assert f"docker push REGISTRY/{image[1]}" in exported.stderr and "--registry REGISTRY" in exported.stderr
