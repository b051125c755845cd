"""A package index's credentials in the host's pip settings never reach an image, and an image that holds one
is not pushed.

The credentials are fake (a random "password" on the index the machine really uses, so the build still
installs): the configured network index when there is one, else pip's own default index, read from pip at run
time. That index ignores a Basic-auth password it did not ask for, so the build works and the test checks that
pip really used the URL with the credentials.
"""

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pip._internal.models.index import PyPI

from mldeploy import InferenceConfig, Model, Workspace
from mldeploy.environments import registry
from mldeploy.errors import DeploymentError
from mldeploy.targets.image_push import push_image
from mldeploy.targets.images import base_image
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine (or a skip), shared


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("docker_client")


ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
NOWHERE = "127.0.0.1:1"  # no registry: a push that gets past the check fails to connect


@pytest.fixture
def index_password(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """PIP_INDEX_URL set to the real index with ``user:<password>@``; the password."""
    registry.pip_settings.cache_clear()
    configured = registry.pip_settings().get("index-url", "")
    index = configured if configured.startswith(("http://", "https://")) else PyPI.simple_url
    password = f"pw{uuid.uuid4().hex}"
    parts = urlsplit(index)
    netloc = f"user:{password}@{parts.netloc.rpartition('@')[2]}"
    monkeypatch.setenv("PIP_INDEX_URL", urlunsplit(parts._replace(netloc=netloc)))
    registry.pip_settings.cache_clear()
    yield password
    registry.pip_settings.cache_clear()


def _docker(*args: str) -> bytes:
    return subprocess.run(["docker", *args], capture_output=True, check=True, timeout=600).stdout


def test_the_credentials_of_pip_settings_are_found_and_kept_for_builds(index_password: str) -> None:
    assert registry.index_credentials() == [index_password]
    assert f"index-url = https://user:{index_password}@" in registry.container_pip_conf("/etc/mldeploy/ca.crt")


@pytest.mark.slow
def test_a_built_image_holds_no_index_credential_and_one_that_does_is_not_pushed(
    engine: Any, index_password: str, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    before = {image.id for image in engine.images.list(all=True)}
    package = Model.package(workspace, [model], InferenceConfig("echo.py"), image_name="mldeploy-test/no-secret:1")
    try:
        logs = "".join(path.read_text() for path in (workspace.path / "packages").glob("*.log"))
        assert "user:****@" in logs, "pip must have used the index URL with the credentials"
        secret = index_password.encode()
        assert secret not in _docker("history", "--no-trunc", package.location)
        assert secret not in _docker("inspect", package.location)
        assert secret not in _docker("save", package.location)  # every layer's files
        build_stages = [image.id for image in engine.images.list(all=True) if image.id not in before
                        and any("/etc/pip.conf" in step["CreatedBy"] for step in image.history())]  # fmt: skip
        for image_id in build_stages:  # the environment's build stage is removed: none, or another build's
            assert secret not in _docker("save", image_id)
        with pytest.raises(DeploymentError, match=f"Pushing {NOWHERE}/mldeploy-test/no-secret:1 failed"):
            push_image(engine, package.location, NOWHERE, lambda step: None)
    finally:
        engine.images.remove(package.location, force=True)

    context = tmp_path / "leaky"
    context.mkdir()
    (context / "pip.conf").write_text(registry.container_pip_conf("/etc/ssl/certs/ca-certificates.crt"))
    base = base_image(engine, lambda step: None)
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY pip.conf /etc/pip.conf\n")
    leaky, _ = engine.images.build(path=str(context), tag="mldeploy-test/leaky:1", network_mode="host")
    try:
        with pytest.raises(DeploymentError) as refused:
            push_image(engine, "mldeploy-test/leaky:1", NOWHERE, lambda step: None)
        message = str(refused.value)
        assert "Refusing to push mldeploy-test/leaky:1" in message and "/etc/pip.conf" in message
        assert index_password not in message
    finally:
        engine.images.remove(leaky.id, force=True)
