"""A Docker service's image run by hand (`docker run --network host IMAGE`, not through mldeploy): the image of a
service deployed with auth refuses to start without keys and then serves /score only with one; the image of a
service deployed without auth serves as its service does.

The containers listen on a free port of 127.0.0.1 (MLDEPLOY_HOST, MLDEPLOY_PORT), not the image's 0.0.0.0:5001.
"""

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mldeploy import AciWebservice, InferenceConfig, Model, Workspace
from mldeploy.scoring.config import ENV_AUTH_KEYS
from mldeploy.targets.base import healthy
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine (or a skip), shared
from tests.support.servers import free_port

pytestmark = pytest.mark.slow
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("docker_client")


def _by_hand(engine: Any, image: str, port: int, **environment: str) -> Any:
    """``image`` run as a user would, on 127.0.0.1:``port``; the container, once it serves or has stopped."""
    settings = {"MLDEPLOY_HOST": "127.0.0.1", "MLDEPLOY_PORT": str(port), **environment}
    container = engine.containers.run(image, network_mode="host", environment=settings, detach=True)
    deadline = time.monotonic() + 120
    while not healthy(port):
        container.reload()
        if container.status == "exited":
            break
        assert time.monotonic() < deadline, container.logs().decode(errors="replace")
        time.sleep(0.2)
    return container


def test_a_keyed_services_image_needs_its_keys_by_hand_and_a_keyless_ones_serves(
    engine: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    keyed, open_service = [
        Model.deploy(workspace, name, [model], InferenceConfig("echo.py"),
                     AciWebservice.deploy_configuration(cpu_cores=0.2, memory_gb=0.3, auth_enabled=auth))
        for name, auth in (("keyed-by-hand", True), ("open-by-hand", False))
    ]  # fmt: skip
    keyed.wait_for_deployment()
    image = keyed._record.image
    baked = json.loads(engine.containers.run(image, ["cat", "/etc/mldeploy/server.json"], remove=True))
    assert (baked["host"], baked["port"], baked["auth_keys"]) == ("0.0.0.0", 5001, []), "no key in the image"
    containers = []
    try:
        port = free_port()
        unkeyed_run = _by_hand(engine, image, port)
        containers.append(unkeyed_run)
        if unkeyed_run.status != "exited":
            status = httpx.post(f"http://127.0.0.1:{port}/score", content='"hi"').status_code
            pytest.fail(f"the image of a keyed service served /score without a key ({status}) when run by hand")
        assert unkeyed_run.wait(timeout=10)["StatusCode"] == 2
        refusal = unkeyed_run.logs().decode()
        assert f"-e {ENV_AUTH_KEYS}=KEY IMAGE" in refusal and "mldeploy service keys NAME" in refusal, refusal

        primary, secondary = keyed.get_keys()
        port = free_port()
        containers.append(_by_hand(engine, image, port, **{ENV_AUTH_KEYS: f"{primary},{secondary}"}))
        score = f"http://127.0.0.1:{port}/score"
        assert httpx.post(score, content='"hi"').status_code == 401
        for key in (primary, secondary):
            assert httpx.post(score, content='"hi"', headers={"Authorization": f"Bearer {key}"}).status_code == 200

        open_service.wait_for_deployment()
        port = free_port()
        containers.append(_by_hand(engine, open_service._record.image, port))
        answer = httpx.post(f"http://127.0.0.1:{port}/score", content='"hi"')
        assert (answer.status_code, answer.json()) == (200, '"hi"'), "a service without auth runs by hand as it is"
    finally:
        for container in containers:
            container.remove(force=True)
