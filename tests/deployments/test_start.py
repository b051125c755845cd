"""Local services whose server stopped (issue 15, item 4): diagnosed as "was healthy, then ended by …" apart
from start-up failures, and started again with the same code, models and port, one or all of them (after a
restart of the machine). Real servers, really killed."""

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from mldeploy import AciWebservice, InferenceConfig, Model, Webservice, WebserviceException, Workspace
from mldeploy.console import services as console_services
from mldeploy.diagnose.stopped import boot_time
from mldeploy.targets import deployments
from mldeploy.targets.container import container_name
from tests.containers.conftest import docker_client  # noqa: F401 - the real engine, or the test is skipped
from tests.deployments.test_cli import mldeploy

SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
START_TIMEOUT_S = 120
ECHO = "def init():\n    pass\n\n\ndef run(data):\n    return data\n"
CONSOLE_CSS = Path(console_services.__file__).parent / "static" / "console.css"


def kill(service: Webservice, whole_group: bool = False) -> None:
    """SIGKILL the service's server (with ``whole_group``: its watcher and workers too, as a power cut would)."""
    pid = service._record.pid
    assert pid is not None
    if whole_group:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while service.state != "Failed":
        assert time.monotonic() < deadline, "the killed server still counts as running"
        time.sleep(0.05)


def test_a_server_killed_after_serving_is_told_apart_from_a_start_up_failure_and_started_again(
    workspace: Workspace, model: Model, project: Path
) -> None:
    service = Model.deploy(workspace, "revive", [model], InferenceConfig(entry_script="score.py"))
    service.wait_for_deployment()
    port = service.port
    kill(service)
    deadline = time.monotonic() + 30
    while not (Path(service._record.folder) / "exit.json").exists():  # the watcher records the exit
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [diagnosis] = service.diagnose()
    assert diagnosis.startswith("Service 'revive' was healthy (since "), diagnosis
    assert "Its server was ended by signal SIGKILL (killed: by the kernel for lack of memory (OOM)" in diagnosis
    assert "ready for serving traffic" in diagnosis.split("Last log lines:")[1]
    assert "Fix: start it again: ws.webservices['revive'].start()." in diagnosis
    assert "before it became healthy" not in diagnosis
    with socket.socket() as taken:  # another program's listener (SO_REUSEADDR: the killed server's closed
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections may linger in TIME_WAIT)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(WebserviceException, match=f"Port {port} of service 'revive' is now used by another"):
            service.start()
    assert service.start() is True
    assert (service.state, service.port) == ("Healthy", port)
    assert "result" in json.loads(service.run(SAMPLE))
    assert service.start() is False, "a running service is left alone"


def _settled(service: Webservice) -> str:
    """The service's state once its server is no longer running."""
    deadline = time.monotonic() + 30
    while (state := service.state) in ("Healthy", "Transitioning"):
        assert time.monotonic() < deadline, "the stopped server still counts as running"
        time.sleep(0.05)
    return state


def test_a_server_stopped_cleanly_is_stopped_not_failed_everywhere_and_starts_again(
    workspace: Workspace, model: Model, project: Path
) -> None:
    """SIGTERM (kill, a shutdown): the server finishes and exits 0. Listed, shown, in the console and waited for
    as Stopped, with the diagnosis that says so; a killed server stays Failed (above)."""
    service = Model.deploy(workspace, "asked-to-stop", [model], InferenceConfig(entry_script="score.py"))
    service.wait_for_deployment()
    assert service._record.pid is not None
    os.kill(service._record.pid, signal.SIGTERM)
    assert _settled(service) == "Stopped"
    [listed] = json.loads(mldeploy(workspace, "service", "list", "-o", "json").stdout)
    [shown] = json.loads(mldeploy(workspace, "service", "show", "asked-to-stop", "-o", "json").stdout)
    assert (listed["state"], shown["state"]) == ("Stopped", "Stopped")
    seen = console_services.view(workspace, service._record)
    assert (seen.state, seen.troubled, seen.failure) == ("Stopped", False, "")
    assert "Its server stopped cleanly, as asked" in seen.diagnosis[0]
    assert f".state-{seen.state.lower()} " in CONSOLE_CSS.read_text(), "the console's badge has a colour"
    with pytest.raises(WebserviceException, match=r"was healthy .*, then stopped"):
        service.wait_for_deployment()
    assert service.start() is True and service.state == "Healthy"


def test_after_a_restart_of_the_machine_start_all_brings_back_every_stopped_service(
    workspace: Workspace, model: Model, project: Path
) -> None:
    """The restart is simulated: each stopped service's processes are all killed (no exit is recorded) and its
    last healthy time is set to before this machine's boot time."""
    config = InferenceConfig(entry_script="score.py")
    stopped = [Model.deploy(workspace, name, [model], config) for name in ("first", "second")]
    running = Model.deploy(workspace, "running", [model], config)
    for service in [*stopped, running]:
        service.wait_for_deployment()
    booted = boot_time()
    assert booted is not None
    for service in stopped:
        kill(service, whole_group=True)
        os.utime(Path(service._record.folder) / "status.json", (booted - 60, booted - 60))
    [diagnosis] = stopped[0].diagnose()
    assert "The machine restarted at " in diagnosis and "the server has not been started since" in diagnosis
    pid = running._record.pid
    steps: list[str] = []
    assert deployments.start_all(workspace.path, steps.append, START_TIMEOUT_S) == {"first": None, "second": None}
    assert "starting service first" in steps
    for service in stopped:
        assert "result" in json.loads(Webservice(workspace, service.name).run(SAMPLE))
    assert Webservice(workspace, "running")._record.pid == pid


def test_a_pid_given_to_another_services_server_is_not_taken_for_the_ended_one(
    workspace: Workspace, model: Model, project: Path
) -> None:
    """Process ids come round again (pid_max is 32,768 on the project's machine; a CI run wraps around): a service
    whose server ended must not count another service's server, given the same pid, as its own, nor stop it."""
    config = InferenceConfig(entry_script="score.py")
    ended, other = (Model.deploy(workspace, name, [model], config) for name in ("ended", "other"))
    for service in (ended, other):
        service.wait_for_deployment()
    kill(ended, whole_group=True)
    record = ended._record
    record.pid = other._record.pid  # what the kernel may do once the ended server's pid is free
    record.save()
    stale = Webservice(workspace, "ended")
    assert stale.state == "Failed"
    stale.delete()
    assert other.state == "Healthy"
    assert "result" in json.loads(other.run(SAMPLE))


def _docker_echo(workspace: Workspace, project: Path, name: str) -> Webservice:
    """A healthy Docker service that answers what it is sent."""
    (project / "echo.py").write_text(ECHO)
    config = AciWebservice.deploy_configuration()
    service = Model.deploy(workspace, name, [], InferenceConfig(entry_script="echo.py"), config)
    service.wait_for_deployment()
    return service


@pytest.mark.slow
def test_a_docker_service_whose_container_is_gone_gets_a_new_one_from_its_image(
    docker_client: Any,  # noqa: F811
    workspace: Workspace,
    project: Path,
) -> None:
    service = _docker_echo(workspace, project, "aci-revive")
    docker_client.containers.get(container_name(service._record)).remove(force=True)
    assert service.diagnose() == [
        "The container of 'aci-revive' is gone; start it again (from its image): service.start()."
    ]
    assert deployments.start_all(workspace.path, lambda step: None, START_TIMEOUT_S) == {"aci-revive": None}
    assert service.run("hi") == "hi"


@pytest.mark.slow
def test_a_docker_service_stopped_with_docker_stop_is_stopped_not_failed_and_starts_again(
    docker_client: Any,  # noqa: F811
    workspace: Workspace,
    project: Path,
) -> None:
    service = _docker_echo(workspace, project, "aci-stopped")
    docker_client.containers.get(container_name(service._record)).stop()
    assert _settled(service) == "Stopped"
    [diagnosis] = service.diagnose()
    assert diagnosis.startswith("Service 'aci-stopped' was stopped: its server ended cleanly, as asked"), diagnosis
    assert "Fix: start it again: service.start()." in diagnosis
    assert service.start() is True and service.state == "Healthy"
    assert service.run("hi") == "hi"
