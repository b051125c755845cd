"""A package index's credentials in the host's pip settings never reach an image, not even the intermediate
images of a build that failed, and an image that holds one is not pushed.

The credentials are fake (a random "password" on the index the machine really uses, so the build still
installs): the configured network index when there is one, else pip's own default index, read from pip at run
time. That index ignores a Basic-auth password it did not ask for, so the build works and the test checks that
pip really used the URL with the credentials.
"""

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from docker.errors import ImageNotFound
from pip._internal.models.index import PyPI

from mldeploy import Environment, InferenceConfig, Model, WebserviceException, Workspace
from mldeploy.environments import registry
from mldeploy.errors import DeploymentError
from mldeploy.targets import package as contexts
from mldeploy.targets.build_settings import served
from mldeploy.targets.image_build import LAYER
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


def _images() -> set[str]:
    """Every image the engine holds, intermediate ones included."""
    return set(_docker("images", "--all", "--quiet", "--no-trunc").decode().split())


def _assert_no_image_holds(secret: str, before: set[str]) -> None:
    """No image made since ``before`` (by this test or another build meanwhile) holds ``secret`` in its history,
    its configuration or a file of a layer."""
    for image in _images() - before:
        for command in (("history", "--no-trunc"), ("inspect",), ("save",)):
            found = subprocess.run(["docker", *command, image], capture_output=True, timeout=600)
            if found.returncode != 0:  # removed meanwhile (another build's stage), so holding nothing
                assert image not in _images(), found.stderr
            shown = secret.encode() in found.stdout
            assert not shown, f"docker {command[0]} {image} shows the index password"


def test_the_credentials_of_pip_settings_are_found_and_kept_for_builds(index_password: str) -> None:
    assert registry.index_credentials() == [index_password]
    assert f"index-url = https://user:{index_password}@" in registry.container_pip_conf("/etc/mldeploy/ca.crt")
    assert f"https://user:{index_password}@" in contexts.pip_environment()["PIP_INDEX_URL"]


def test_a_builds_pip_settings_are_served_once_to_its_token_and_only_while_it_runs() -> None:
    settings = {"PIP_INDEX_URL": "https://user:secret@index.invalid/simple"}
    with served(settings) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url.rsplit('/', 1)[0]}/guess").status_code == 404
        assert httpx.get(url).json() == settings
        assert httpx.get(url).status_code == 404, "served once: the build's install step has it"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


@pytest.mark.slow
def test_a_built_image_holds_no_index_credential_and_one_that_does_is_not_pushed(
    engine: Any, index_password: str, workspace: Workspace, model: Model, project: Path, tmp_path: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    before = _images()
    package = Model.package(workspace, [model], InferenceConfig("echo.py"), image_name="mldeploy-test/no-secret:1")
    try:
        logs = "".join(path.read_text() for path in (workspace.path / "packages").glob("*.log"))
        assert "user:****@" in logs, "pip must have used the index URL with the credentials"
        secret = index_password.encode()
        assert secret not in _docker("history", "--no-trunc", package.location)
        assert secret not in _docker("inspect", package.location)
        assert secret not in _docker("save", package.location)  # every layer's files
        _assert_no_image_holds(index_password, before)  # the environment image, its build stage if still there
        with pytest.raises(DeploymentError, match=f"Pushing {NOWHERE}/mldeploy-test/no-secret:1 failed"):
            push_image(engine, package.location, NOWHERE, lambda step: None)
    finally:
        for tag in (package.location, f"{NOWHERE}/{package.location}"):  # the second: tagged by the refused push
            with contextlib.suppress(ImageNotFound):
                engine.images.remove(tag, force=True)

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


@pytest.mark.slow
def test_a_failed_environment_build_leaves_neither_the_credentials_nor_its_intermediate_images(
    engine: Any, index_password: str, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "echo.py").write_text(ECHO)
    (project / "requirements.txt").write_text(f"mldeploy-test-absent-{uuid.uuid4().hex[:8]}==1.0\n")
    environment = Environment.from_pip_requirements("absent", "requirements.txt")
    base_image(engine, lambda step: None)
    before = _images()
    config = InferenceConfig("echo.py", environment=environment)
    with pytest.raises(WebserviceException, match="The image build failed"):
        Model.package(workspace, [model], config, image_name="mldeploy-test/failed:1")
    log = "".join(path.read_text() for path in (workspace.path / "packages").glob("*.environment.log"))
    assert "user:****@" in log, "pip must have used the index URL with the credentials"
    assert "No matching distribution found for mldeploy-test-absent-" in log
    made = [layer[1] for layer in map(LAYER.match, log.splitlines()) if layer]
    assert made, log
    _assert_no_image_holds(index_password, before)
    held = {image.removeprefix("sha256:")[:12] for image in _images()}
    left = [image for image in made if image[:12] in held and not engine.images.get(image).tags]
    assert left == [], "the failed build's intermediate images are removed (the tagged base image stays)"
