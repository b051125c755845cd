"""The base image, made from the host's apt sources with mmdebstrap and imported into the real engine."""

from typing import Any

import pytest

from mldeploy.errors import DockerUnavailable
from mldeploy.targets.docker_engine import connect
from mldeploy.targets.images import base_image

pytestmark = pytest.mark.slow


def test_the_base_image_is_built_once_and_runs_python(docker_client: Any) -> None:
    steps: list[str] = []
    tag = base_image(docker_client, steps.append)
    image_id = docker_client.images.get(tag).id
    assert base_image(docker_client, steps.append) == tag
    assert docker_client.images.get(tag).id == image_id
    output = docker_client.containers.run(
        tag,
        ["python3", "-c", "import sys, ssl, venv; print('%d.%d' % sys.version_info[:2])"],
        network_mode="host",
        nano_cpus=500_000_000,
        mem_limit="128m",
        remove=True,
    )
    assert output.decode().strip() == "3.11"


def test_an_absent_engine_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerUnavailable) as error:
        connect()
    assert "does not answer" in str(error.value)
    assert "dockerd --bridge=none --iptables=false" in str(error.value)
