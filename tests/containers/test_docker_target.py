"""Container deployments on the real Docker engine (the ACI equivalent): lifecycle, limits, keys, and every
failure mode of the seed, each with its message."""

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import httpx
import pytest

from mldeploy import AciWebservice, Environment, InferenceConfig, Model, Webservice, WebserviceException, Workspace
from mldeploy.targets.capacity import GIB, host_capacity
from mldeploy.targets.container import container_name
from mldeploy.workspace.services import services_root

pytestmark = pytest.mark.slow
SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
HUNGRY = """\
blob = None


def init():
    global blob
    blob = b"x" * (300 * 2**20)  # written, so resident: 300 MiB


def run(data):
    return len(blob)
"""
WRONG_MODEL = """\
from azureml.core.model import Model


def init():
    Model.get_model_path("my-best-model")


def run(data):
    return data
"""
NO_IMPORT = """\
import not_installed_anywhere


def init():
    pass


def run(data):
    return data
"""
FAILING_INIT = """\
import json


def init():
    with open("settings-that-do-not-exist.json") as file:
        json.load(file)


def run(data):
    return data
"""


def _inspect(docker_client: Any, service: Webservice) -> dict[str, Any]:
    return docker_client.api.inspect_container(container_name(service._record))  # type: ignore[no-any-return]


def _tag(docker_client: Any, image: str, tag: str) -> None:
    repository, _, version = tag.rpartition(":")
    assert docker_client.api.tag(image, repository, version)


def _image_id(docker_client: Any, reference: str) -> str:
    return str(docker_client.images.get(reference).id)


def _exists(docker_client: Any, reference: str) -> bool:
    try:
        docker_client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def _sklearn_environment(project: Path) -> Environment:
    (project / "requirements.txt").write_text("numpy\nscikit-learn\njoblib\nazureml-defaults\n")
    return Environment.from_pip_requirements("env", "requirements.txt")


def _deploy(workspace: Workspace, model: Model, name: str, script: str, **settings: Any) -> Webservice:
    config = InferenceConfig(script, environment=settings.pop("environment", None))
    return Model.deploy(workspace, name, [model], config, AciWebservice.deploy_configuration(**settings))


def _failed_deployment(
    workspace: Workspace, model: Model, project: Path, name: str, script: str, **settings: Any
) -> tuple[Webservice, str]:
    """Deploy ``script`` (its text) as ``name``; the service and the message wait_for_deployment failed with."""
    (project / f"{name}.py").write_text(script)
    service = _deploy(workspace, model, name, f"{name}.py", **settings)
    with pytest.raises(WebserviceException) as failure:
        service.wait_for_deployment(timeout_sec=180)
    return service, str(failure.value)


def test_lifecycle_limits_keys_reload_update_delete(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    settings = {"cpu_cores": 0.5, "memory_gb": 0.5, "auth_enabled": True, "tags": {"team": "a"}, "description": "seed"}
    service = _deploy(workspace, model, "aci-life", "score.py", environment=_sklearn_environment(project), **settings)
    service.wait_for_deployment()
    assert service.state == "Healthy" and service.compute_type == "ACI"
    assert (service.tags, service.description) == ({"team": "a"}, "seed")
    host = _inspect(docker_client, service)["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["MemorySwap"]) == (500_000_000, GIB // 2, GIB // 2)
    assert (host["NetworkMode"], host["RestartPolicy"]["Name"]) == ("host", "on-failure")
    assert len(json.loads(service.run(SAMPLE))["result"]) == 1
    assert httpx.post(service.scoring_uri, content=SAMPLE).status_code == 401
    primary, secondary = service.get_keys()
    service.regen_key("Primary")
    new_primary, same_secondary = service.get_keys()
    assert new_primary != primary and same_secondary == secondary
    for key, status in ((primary, 401), (new_primary, 200), (secondary, 200)):
        answer = httpx.post(service.scoring_uri, content=SAMPLE, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == status
    assert "Booting worker with pid" in service.get_logs()

    user_tags = [f"mldeploy-test/users-own:{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        _tag(docker_client, service._record.image, user_tags[0])  # the user's tag on the first image
        score = project / "score.py"
        original = score.read_text()
        for version in (2, 3):
            score.write_text(
                original.replace('"result": result.tolist()', f'"result": result.tolist(), "v": {version}')
            )
            replaced = _image_id(docker_client, service._record.image)
            service.reload()
            assert json.loads(service.run(SAMPLE))["v"] == version
        assert _exists(docker_client, user_tags[0]), "a reload keeps the user's tag"
        assert not _exists(docker_client, replaced), "the image the last reload replaced (untagged, unused) is gone"

        _tag(docker_client, service._record.image, user_tags[1])
        service.update(deployment_config=AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=0.75,
                                                                            auth_enabled=True))  # fmt: skip
        assert _inspect(docker_client, service)["HostConfig"]["Memory"] == int(0.75 * GIB)
        assert service.get_keys() == (new_primary, secondary)
        assert json.loads(service.run(SAMPLE))["v"] == 3

        image = service._record.image
        service.delete()
        assert not docker_client.containers.list(all=True, filters={"name": container_name(service._record)})
        assert not docker_client.images.list(name=image.split(":")[0])
        assert docker_client.images.list(name="mldeploy/env"), "the environment layer is kept for other services"
        assert all(_exists(docker_client, tag) for tag in user_tags), "update and delete keep the user's tags"
    finally:
        for tag in user_tags:
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag)


def test_init_failure_is_a_crash_loop_reported_without_waiting(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service, message = _failed_deployment(workspace, model, project, "aci-crash", FAILING_INIT)
    assert "CrashLoopBackOff" in message and "restarted" in message
    assert "FileNotFoundError" in message and "settings-that-do-not-exist.json" in message
    assert "line 5" in message and "AZUREML_MODEL_DIR" in message
    assert "The container keeps restarting" in message and "holds 0.1 CPU and 0.5 GB of this host" in message
    assert "Free them: service.delete()" in message
    assert _inspect(docker_client, service)["RestartCount"] >= 2
    assert service.state == "Failed"


def _holds(docker_client: Any, service: Webservice) -> bool:
    """The service's container counts against this host's CPU and memory (it runs, or restarts)."""
    return any(holder.startswith(service.name) for holder in host_capacity(docker_client).holders)


def test_a_script_that_does_not_import_is_not_restarted_and_holds_no_cpu_or_memory(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    """A permanent failure, seen by wait_for_deployment, or by a look at the state of a service nobody waits for:
    its container stops restarting (as a local server stops), so the next deploy has the room it held."""
    (project / "no_import.py").write_text(NO_IMPORT)
    waited, message = _failed_deployment(workspace, model, project, "aci-noimport", NO_IMPORT)
    assert "ModuleNotFoundError" in message and "not_installed_anywhere" in message
    assert "The failure is permanent" in message and "the container is not restarted again" in message
    unwatched = _deploy(workspace, model, "aci-unwatched", "no_import.py", memory_gb=1)
    deadline = time.monotonic() + 120
    while unwatched.state != "Failed" or _holds(docker_client, unwatched):
        assert time.monotonic() < deadline, "the container still restarts"
        time.sleep(0.2)
    for service in (waited, unwatched):
        container = _inspect(docker_client, service)
        assert container["State"]["Status"] == "exited" and container["HostConfig"]["RestartPolicy"]["Name"] == "no"
        assert not _holds(docker_client, service)


def test_a_model_path_that_is_not_there_shows_the_model_tree(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    _, message = _failed_deployment(workspace, model, project, "aci-path", WRONG_MODEL)
    assert "my-best-model" in message and "my_best_model" in message
    assert "model.pkl" in message


def test_too_little_memory_is_detected_measured_and_the_advice_works(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service, message = _failed_deployment(workspace, model, project, "aci-oom", HUNGRY, memory_gb=0.15)
    assert "not enough memory" in message and "OOM" in message and "Booting worker with pid" in message
    advice = float(message.split("ask for memory_gb=")[1].split(" ")[0])
    assert 300 / 1024 < advice < 1.0, message
    service.update(deployment_config=AciWebservice.deploy_configuration(memory_gb=advice))
    assert service.state == "Healthy"
    assert service.run("{}") == 300 * 2**20


def test_more_than_the_host_has_is_refused_before_anything_starts(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    with pytest.raises(WebserviceException) as failure:
        _deploy(workspace, model, "aci-huge", "score.py", cpu_cores=1000, memory_gb=100_000)
    message = str(failure.value)
    assert "0/1 nodes are available: 1 Insufficient cpu, memory" in message
    assert "asked 1000 CPU" in message and "asked 100000 GB" in message and "Fixes:" in message
    assert not (services_root(workspace.path) / "aci-huge").exists()
    assert not docker_client.containers.list(all=True, filters={"label": "mldeploy.service=aci-huge"})


def test_an_absent_engine_fails_the_deployment_with_how_to_start_it(
    workspace: Workspace, model: Model, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(WebserviceException) as failure:
        _deploy(workspace, model, "aci-noengine", "score.py")
    assert "dockerd --bridge=none --iptables=false" in str(failure.value)
    assert not (services_root(workspace.path) / "aci-noengine").exists()


def test_a_pin_against_the_scoring_runtime_is_refused_before_the_image_is_built(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    (project / "requirements.txt").write_text("inference-schema==1.0.2\n")
    environment = Environment.from_pip_requirements("old-schema", "requirements.txt")
    with pytest.raises(WebserviceException) as failure:
        _deploy(workspace, model, "aci-schema", "score.py", environment=environment)
    message = str(failure.value)
    assert "Your requirement inference-schema==1.0.2 (environment 'old-schema') conflicts with" in message
    assert "installs inference-schema>=1.7 into every environment" in message
