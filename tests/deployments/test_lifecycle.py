"""Local deployments on real processes: failures explained at once, other processes, updates without errors."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from mldeploy import InferenceConfig, LocalWebservice, Model, Webservice, WebserviceException, Workspace
from tests.support.servers import SCRIPTS

SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})


def test_init_failure_is_reported_at_once_with_file_line_and_fix(workspace: Workspace, project: Path) -> None:
    shutil.copy(SCRIPTS / "init_raises.py", project / "broken.py")
    service = Model.deploy(workspace, "broken", [], InferenceConfig(entry_script="broken.py"))
    started = time.monotonic()
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(show_output=True)
    assert time.monotonic() - started < 30
    message = str(error.value)
    assert "init() failed in" in message
    assert "broken.py, line 5, in load_settings" in message
    assert "FileNotFoundError" in message
    assert "Fix:" in message
    assert service.state == "Failed"


def test_the_service_outlives_the_deploying_process(workspace: Workspace, model: Model, project: Path) -> None:
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "deploy", "detached",
               "--model", "my_best_model", "--entry-script", "score.py"]  # fmt: skip
    deployed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 0, deployed.stderr
    service = Webservice(workspace, "detached")
    assert service.state == "Healthy"
    assert "result" in json.loads(service.run(SAMPLE))
    lookup = f"Workspace({str(workspace.path)!r}).webservices['detached']"
    code = f"from mldeploy import Workspace; print({lookup}.run({SAMPLE!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "result" in other.stdout


def test_update_swaps_code_and_model_without_a_failed_request(
    workspace: Workspace, model: Model, project: Path
) -> None:
    config = InferenceConfig(entry_script="score.py")
    service = Model.deploy(workspace, "rolling", [model], config, LocalWebservice.deploy_configuration(workers=2))
    service.wait_for_deployment()
    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=30) as session:
            while not stop.is_set():
                for _attempt in range(20):
                    answer = session.post(service.scoring_uri, content=SAMPLE)
                    if answer.status_code != 503:
                        break
                    time.sleep(0.05)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text}")
                answers.append(answer.text)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        (project / "score.py").write_text((project / "score.py").read_text().replace('"result"', '"v2"'))
        newer = Model.register(model_path="model.pkl", model_name="my_best_model", workspace=workspace)
        service.update(models=[newer], inference_config=config)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:3]
    assert "v2" in answers[-1]
    assert service.models == ["my_best_model:2"]
    assert len(list(Path(service._record.folder).glob("app-*"))) == 1, "the previous app folder is removed"


def test_bad_deployments_are_refused_and_leave_nothing(workspace: Workspace, model: Model, project: Path) -> None:
    services = workspace.path / "services"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WebserviceException, match=f"Port {port} is already in use"):
            Model.deploy(workspace, "taken", [model], InferenceConfig("score.py"),
                         LocalWebservice.deploy_configuration(port=port))  # fmt: skip
    with pytest.raises(WebserviceException, match=r"The entry script missing\.py was not found"):
        Model.deploy(workspace, "nocode", [model], InferenceConfig("missing.py"))
    with pytest.raises(WebserviceException, match="is not valid"):
        Model.deploy(workspace, "Bad_Name", [model], InferenceConfig("score.py"))
    assert not services.exists() or not list(services.iterdir())


def test_reload_uses_the_warm_spare_worker_whose_start_is_not_logged_as_a_boot(
    workspace: Workspace, model: Model, project: Path
) -> None:
    service = Model.deploy(workspace, "spare", [model], InferenceConfig(entry_script="score.py"))
    service.wait_for_deployment()
    deadline = time.monotonic() + 60
    while "Starting a spare worker" not in service.get_logs():
        assert time.monotonic() < deadline, "no spare worker was started"
        time.sleep(0.1)
    time.sleep(1.0)  # let the spare finish its imports
    before = service.get_logs()
    assert before.count("Booting worker with pid") == 1, "a healthy service shows one boot: not the OOM symptom"
    (project / "score.py").write_text((project / "score.py").read_text().replace('"result"', '"edited"'))
    service.reload()
    assert "edited" in json.loads(service.run(SAMPLE))
    after = service.get_logs()[len(before) :]
    ready = [line for line in after.splitlines() if "ready for serving traffic" in line]
    assert ready, after
    pid = ready[0].split("Worker with pid ")[1].split()[0]
    assert f"Starting a spare worker, pid {pid}, warm with: " in before, "booted (and preloaded) before reload()"
    assert f"Booting worker with pid: {pid} (the spare" in after


def test_several_models_are_laid_out_as_v1_does(workspace: Workspace, model: Model, project: Path) -> None:
    other = Model.register(workspace, project / "score.py", "helper-files")
    (project / "where.py").write_text(
        "import os\n\ndef init():\n    pass\n\ndef run(data):\n"
        "    root = os.environ['AZUREML_MODEL_DIR']\n"
        "    return {'dir': root, 'tree': sorted(str(p) for p in __import__('pathlib').Path(root).rglob('*'))}\n"
    )
    service = Model.deploy(workspace, "several", [model, other], InferenceConfig(entry_script="where.py"))
    service.wait_for_deployment()
    answer = service.run("x")
    assert answer["dir"] == "azureml-models"
    assert "azureml-models/my_best_model/1/model.pkl" in answer["tree"]
    assert "azureml-models/helper-files/1/score.py" in answer["tree"]


def test_a_deployment_killed_while_preparing_does_not_block_the_name(
    workspace: Workspace, model: Model, project: Path
) -> None:
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "deploy", "killed",
               "--model", "my_best_model", "--entry-script", "score.py", "--conda-file", "myenv.yml"]  # fmt: skip
    deploying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = workspace.path / "services" / "killed"
    deadline = time.monotonic() + 60
    while not folder.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    deploying.kill()
    deploying.wait()
    assert folder.exists() and not (folder / "service.json").exists()
    assert subprocess.run(command, capture_output=True, text=True, timeout=300).returncode == 0
    assert Webservice(workspace, "killed").state == "Healthy"


def test_a_deployment_without_a_model_says_so_and_takes_one_by_update_or_overwrite_keeping_its_port(
    workspace: Workspace, model: Model, project: Path
) -> None:
    service = Model.deploy(workspace, "no-model", [], InferenceConfig(entry_script="score.py"))
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment()
    message = str(error.value)
    assert "init() failed in " + str(Path(service._record.folder) / "app-1" / "score.py") + ", line 13" in message
    assert "No model was given to this deployment, so AZUREML_MODEL_DIR is not set" in message
    assert "score.py, line 13 looks for the model there. Fix: " in message
    assert "ws.webservices['no-model'].update(models=[model])" in message
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "deploy", "no-model-cli",
               "--entry-script", "score.py"]  # fmt: skip
    deployed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert deployed.returncode == 1
    assert "mldeploy service update no-model-cli --model NAME[:VERSION]" in deployed.stderr
    assert "Model.deploy(" not in deployed.stderr and "ws.webservices" not in deployed.stderr
    service.update(models=[model])  # the failed server is started with the model
    assert "result" in json.loads(service.run(SAMPLE))
    again = Model.deploy(workspace, "no-model", [model], InferenceConfig(entry_script="score.py"), overwrite=True)
    again.wait_for_deployment()
    assert again.port == service.port, "a service replaced without a port given keeps its port"
