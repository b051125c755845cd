"""Deploys, updates and deletes of one service name from several processes at once (issue 13, item 6; issue
23, item 9): one name is claimed by one process at a time, so exactly one service results, every other deploy
is told why with one exit code (1), whether it would have replaced the service or found the name taken, and
nothing keeps serving once the service is deleted. Real CLI processes, real servers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mldeploy import InferenceConfig, LocalWebservice, Model, Webservice, WebserviceException, Workspace

SAMPLE = '{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}'
DEPLOYERS = 5
TIMEOUT_S = 300
SOURCE_FILES = 3000
OTHER_NAMES = 3


def command(workspace: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), *args]


def run_together(workspace: Workspace, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once, then collect each one's exit code and output."""
    processes = [subprocess.Popen(command(workspace, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for args in commands]  # fmt: skip
    results = []
    for process, args in zip(processes, commands, strict=True):
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        results.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return results


def servers_of(workspace: Workspace) -> list[int]:
    """The pids of every scoring server (and worker) started for this workspace's services, tracked or not."""
    marker = str(workspace.path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def process_group(pgid: int) -> list[int]:
    """The live processes of a server's group: the server and its workers (exited ones not yet reaped aside)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            exited = entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            if entry.name.isdigit() and not exited and os.getpgid(int(entry.name)) == pgid:
                members.append(int(entry.name))
        except OSError:
            continue
    return members


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def succeed(workspace: Workspace, *args: str) -> None:
    done = subprocess.run(command(workspace, *args), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr


def records(workspace: Workspace) -> dict[str, dict[str, Any]]:
    """Every service record as stored, by name."""
    return {
        path.parent.name: json.loads(path.read_text()) for path in (workspace.path / "services").glob("*/service.json")
    }


def only_tracked_servers_run(workspace: Workspace) -> bool:
    return sorted(servers_of(workspace)) == sorted(record["pid"] for record in records(workspace).values())


def deploy_args(name: str, *extra: str) -> list[str]:
    return ["deploy", name, "--model", "my_best_model:1", "--entry-script", "score.py", *extra]


@pytest.fixture
def many_files(project: Path) -> Path:
    """The project as a source directory with many files: each deploy takes a while to lay out its app folder,
    long enough for the deploys started together to overlap."""
    data = project / "data"
    data.mkdir()
    for index in range(SOURCE_FILES):
        (data / f"part-{index}.txt").write_text("x" * 100)
    return project


@pytest.mark.slow
def test_concurrent_deploys_make_one_service_per_name(workspace: Workspace, model: Model, many_files: Path) -> None:
    """Five deploys of one name and three of other names, all at once."""
    source = ["--source-dir", str(many_files)]
    others = [f"other-{index}" for index in range(OTHER_NAMES)]
    results = run_together(
        workspace, [deploy_args("race-svc", *source)] * DEPLOYERS + [deploy_args(name, *source) for name in others]
    )
    racers, independents = results[:DEPLOYERS], results[DEPLOYERS:]
    assert [result.returncode for result in independents] == [0] * OTHER_NAMES, [r.stderr for r in independents]
    assert sorted(result.returncode for result in racers) == [0] + [1] * (DEPLOYERS - 1), [r.stderr for r in racers]
    for refused in (result for result in racers if result.returncode != 0):
        assert "A service named 'race-svc' already exists" in refused.stderr
        assert "Traceback" not in refused.stderr
    listed = json.loads(subprocess.run(command(workspace, "service", "list", "-o", "json"), capture_output=True,
                                       text=True, check=True).stdout)  # fmt: skip
    assert [(row["name"], row["state"]) for row in listed] == [(name, "Healthy") for name in [*others, "race-svc"]]
    assert only_tracked_servers_run(workspace)
    deployed = records(workspace)
    assert len({record["port"] for record in deployed.values()}) == len(deployed)
    for name in deployed:
        assert "result" in json.loads(Webservice(workspace, name).run(SAMPLE))

    succeed(workspace, "service", "delete", "race-svc")
    assert sorted(records(workspace)) == others
    assert only_tracked_servers_run(workspace)
    assert process_group(deployed["race-svc"]["pid"]) == []
    assert not listening(deployed["race-svc"]["port"])
    assert not (workspace.path / "services" / "race-svc").exists()


@pytest.mark.slow
def test_racing_overwrites_one_replaces_the_service_and_the_others_say_another_deploy_was_in_progress(
    workspace: Workspace, model: Model, many_files: Path
) -> None:
    args = deploy_args("overwritten", "--source-dir", str(many_files), "--overwrite")
    succeed(workspace, *args)
    replaced = records(workspace)["overwritten"]
    results = run_together(workspace, [args] * DEPLOYERS)
    assert sorted(result.returncode for result in results) == [0] + [1] * (DEPLOYERS - 1), [r.stderr for r in results]
    for refused in (result for result in results if result.returncode != 0):
        assert "Service 'overwritten' was not replaced: another deploy of it was in progress" in refused.stderr
        assert "mldeploy deploy overwritten ... --overwrite again" in refused.stderr
        assert "SIGTERM" not in refused.stderr and "Traceback" not in refused.stderr
    deployed = records(workspace)
    assert list(deployed) == ["overwritten"] and deployed["overwritten"]["pid"] != replaced["pid"]
    assert only_tracked_servers_run(workspace)
    assert process_group(replaced["pid"]) == []
    folder = workspace.path / "services" / "overwritten"
    assert sorted(path.name for path in folder.glob("app-*")) == ["app-1"], "one app folder, the winner's"
    assert Webservice(workspace, "overwritten").state == "Healthy"
    assert "result" in json.loads(Webservice(workspace, "overwritten").run(SAMPLE))


@pytest.mark.slow
def test_a_name_taken_exits_1_whether_found_before_anything_is_made_or_after_waiting(
    workspace: Workspace, model: Model, project: Path
) -> None:
    succeed(workspace, *deploy_args("taken"))
    refused = subprocess.run(command(workspace, *deploy_args("taken")), capture_output=True, text=True)
    assert refused.returncode == 1, refused.stderr
    assert "A service named 'taken' already exists. Add --overwrite to replace it" in refused.stderr


@pytest.mark.slow
def test_a_deploy_replaced_before_it_was_awaited_says_so(workspace: Workspace, model: Model, project: Path) -> None:
    """The name is free between Model.deploy and wait_for_deployment: a deploy of another process can replace
    the service then; the wait says so (not that the server ended by SIGTERM)."""
    first = Model.deploy(workspace, "between", [model], InferenceConfig(entry_script="score.py"))
    succeed(workspace, *deploy_args("between", "--overwrite"))
    with pytest.raises(WebserviceException) as error:
        first.wait_for_deployment()
    assert str(error.value) == (
        "Service 'between' was replaced by another deploy of it before this one became healthy: that deploy's "
        "service is the one serving."
    )
    assert Webservice(workspace, "between").state == "Healthy"
    assert only_tracked_servers_run(workspace)


@pytest.mark.slow
def test_overwrites_and_deletes_of_one_name_at_once_leave_only_the_tracked_server(
    workspace: Workspace, model: Model, project: Path
) -> None:
    succeed(workspace, *deploy_args("churn"))
    results = run_together(workspace, [deploy_args("churn", "--overwrite"), ["service", "delete", "churn"]] * 2)
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
    assert only_tracked_servers_run(workspace)
    for service in workspace.webservices.values():
        assert service.state == "Healthy"


@pytest.mark.slow
def test_a_deployer_killed_while_it_holds_the_name_does_not_block_it(
    workspace: Workspace, model: Model, many_files: Path
) -> None:
    args = deploy_args("killed", "--source-dir", str(many_files))
    deployer = subprocess.Popen(command(workspace, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    claim = workspace.path / "locks" / "services" / "killed"
    deadline = time.monotonic() + TIMEOUT_S
    while deployer.poll() is None and time.monotonic() < deadline:
        if claim.exists() and claim.read_text().split()[:1] == [str(deployer.pid)]:
            break
        time.sleep(0.01)
    assert deployer.poll() is None, "the deployer finished without ever claiming the name"
    deployer.send_signal(signal.SIGKILL)
    deployer.wait()

    succeed(workspace, *args, "--overwrite")
    assert list(records(workspace)) == ["killed"]
    assert only_tracked_servers_run(workspace)


@pytest.mark.slow
def test_a_server_left_without_a_record_is_stopped_before_its_name_is_reused(
    workspace: Workspace, model: Model, project: Path
) -> None:
    """What a deployer killed between starting the server and saving the record leaves: a folder without
    service.json and a server started from it."""
    succeed(workspace, *deploy_args("orphan"))
    (workspace.path / "services" / "orphan" / "service.json").unlink()
    succeed(workspace, *deploy_args("orphan"))
    assert list(records(workspace)) == ["orphan"]
    assert only_tracked_servers_run(workspace)


@pytest.mark.slow
def test_concurrent_deploys_on_one_port_are_refused_in_plain_words(
    workspace: Workspace, model: Model, project: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    results = run_together(workspace, [deploy_args(f"port-{index}", "--port", port) for index in range(DEPLOYERS)])
    assert [result.returncode for result in results].count(0) == 1, [result.stderr for result in results]
    for refused in (result for result in results if result.returncode != 0):
        assert f"Port {port} is already in use" in refused.stderr
        assert "Traceback" not in refused.stderr
    winners = [result.args[1] for result in results if result.returncode == 0]
    assert [service.name for service in workspace.webservices.values()] == winners


def test_a_service_name_with_a_trailing_newline_is_refused(workspace: Workspace, model: Model, project: Path) -> None:
    with pytest.raises(WebserviceException, match="is not valid"):
        Model.deploy(workspace, "my-service\n", [], InferenceConfig(entry_script="score.py"),
                     LocalWebservice.deploy_configuration())  # fmt: skip
    refused = subprocess.run(command(workspace, *deploy_args("my-service\n")), capture_output=True, text=True)
    assert refused.returncode != 0
    assert "is not valid" in refused.stderr
    assert workspace.webservices == {}
