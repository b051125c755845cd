"""A Docker service's update on the real engine: the new revision's container starts beside the serving one,
takes the port over once ready, and the old one stops after answering what it had. A client sending requests
in a loop meanwhile (a new connection each, 503 retried) sees no failure; a new revision or edited code whose
init() fails (an update, a reload) leaves the old one serving; an update killed halfway leaves the service
serving and its leftover is removed by the next update; without room for both, the container is replaced."""

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AciWebservice, InferenceConfig, Model, Webservice, WebserviceException, Workspace
from mldeploy.targets import service_containers
from mldeploy.targets.capacity import host_capacity
from mldeploy.targets.container import container_name
from mldeploy.workspace.services import load
from tests.support.handover import LoopingClient

pytestmark = pytest.mark.slow
VERSIONED = "def init():\n    pass\n\n\ndef run(data):\n    return {version!r}\n"
FAILING_INIT = "def init():\n    raise RuntimeError('no model today')\n\n\ndef run(data):\n    return data\n"


def _deploy(workspace: Workspace, model: Model, project: Path, name: str, cpu_cores: float = 0.5) -> Webservice:
    for version in ("v1", "v2"):
        (project / f"{version}.py").write_text(VERSIONED.format(version=version))
    config = AciWebservice.deploy_configuration(cpu_cores=cpu_cores, memory_gb=0.5, auth_enabled=True)
    service = Model.deploy(workspace, name, [model], InferenceConfig("v1.py"), config)
    service.wait_for_deployment(timeout_sec=300)
    return service


def _containers(docker_client: Any, service: Webservice) -> list[str]:
    return [container.name for container in service_containers.of_service(docker_client, service._record)]


def test_an_update_fails_no_request_and_ends_on_the_new_revision(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service = _deploy(workspace, model, project, "aci-handover")
    first = docker_client.containers.get(container_name(service._record)).id
    key, _ = service.get_keys()
    with LoopingClient(service.port, b'"x"', {"Authorization": f"Bearer {key}"}) as client:
        client.wait_for(20)
        before, started = client.sent, time.monotonic()
        service.update(inference_config=InferenceConfig("v2.py"))
        during, took = client.sent - before, time.monotonic() - started
        client.wait_for(20)
    print(f"update: {took:.1f} s, {during} requests meanwhile, {client.retried} retried (503), {client.failures} "
          f"failed, at most {client.longest_gap_s * 1000:.0f} ms without an answer")  # fmt: skip
    assert client.failures == Counter(), f"of {client.sent} requests, {during} during the update"
    assert during >= 20, "the client kept sending during the update"
    assert client.last == b'"v2"' and service.run("{}") == "v2"
    assert _containers(docker_client, service) == [container_name(service._record)]
    assert docker_client.containers.get(container_name(service._record)).id != first
    assert load(workspace.path, "aci-handover").revision == 2 and service.state == "Healthy"


def test_a_new_revision_or_code_whose_init_fails_leaves_the_old_one_serving(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service = _deploy(workspace, model, project, "aci-keeps")
    (project / "broken.py").write_text(FAILING_INIT)
    key, _ = service.get_keys()
    with LoopingClient(service.port, b'"x"', {"Authorization": f"Bearer {key}"}) as client:
        client.wait_for(20)
        with pytest.raises(WebserviceException) as failure:
            service.update(inference_config=InferenceConfig("broken.py"))
        client.wait_for(20)
    message = str(failure.value)
    assert "The update of 'aci-keeps' failed; revision 1 keeps serving." in message
    assert "CrashLoopBackOff" in message and "RuntimeError" in message and "no model today" in message
    assert client.failures == Counter() and set(client.answers) == {b'"v1"'}
    assert _containers(docker_client, service) == [container_name(service._record)]
    stored = load(workspace.path, "aci-keeps")
    assert (stored.revision, stored.entry_script) == (1, str(project / "v1.py"))
    assert not docker_client.images.list(name=f"mldeploy/{container_name(stored)}:2")
    (project / "v1.py").write_text(FAILING_INIT)
    with pytest.raises(WebserviceException, match="The reload of 'aci-keeps' failed; the code it served keeps serving"):
        service.reload()
    serving = docker_client.containers.get(container_name(stored))
    assert service.run("{}") == "v1" and docker_client.images.get(stored.image).id == serving.attrs["Image"]
    service.update(inference_config=InferenceConfig("v2.py"))
    assert service.run("{}") == "v2" and load(workspace.path, "aci-keeps").revision == 2


def test_an_update_killed_halfway_leaves_the_service_serving_and_the_next_update_cleans_up(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    service = _deploy(workspace, model, project, "aci-killed")
    update = subprocess.Popen([sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "service",
                               "update", "aci-killed", "--entry-script", "v2.py"])  # fmt: skip
    deadline = time.monotonic() + 300
    while len(_containers(docker_client, service)) < 2:
        assert update.poll() is None and time.monotonic() < deadline, "the update started no second container"
        time.sleep(0.05)
    update.send_signal(signal.SIGKILL)
    update.wait()
    assert service.state == "Healthy" and service.run("{}") in ("v1", "v2")
    assert load(workspace.path, "aci-killed").revision == 1
    service.update(inference_config=InferenceConfig("v2.py"))
    assert _containers(docker_client, service) == [container_name(service._record)]
    assert service.run("{}") == "v2"


def test_without_room_for_both_containers_the_old_one_stops_before_the_new_one_starts(
    docker_client: Any, workspace: Workspace, model: Model, project: Path
) -> None:
    """Admission counts the new container alone; the overlap needs room for both, else the container is replaced."""
    cpu_cores = round(host_capacity(docker_client).free_cpus * 0.75, 2)  # fits alone, not twice
    service = _deploy(workspace, model, project, "aci-no-room", cpu_cores)
    old = docker_client.containers.get(container_name(service._record)).id
    since = int(time.time()) - 1
    service.update(inference_config=InferenceConfig("v2.py"))
    new = docker_client.containers.get(container_name(service._record)).id
    filters = {"event": ["die", "start"], "label": "mldeploy.service=aci-no-room"}
    events = [(event["Action"], event["id"]) for event in
              docker_client.events(since=since, until=int(time.time()) + 1, filters=filters, decode=True)]  # fmt: skip
    assert events.index(("die", old)) < events.index(("start", new)), events
    assert service.run("{}") == "v2"
