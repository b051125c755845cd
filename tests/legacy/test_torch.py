"""A whole pickled PyTorch model loaded with torch.load(path), on torch 2.13 (installed in its own cached venv,
beside the reference server): refused at once with the diagnosis; with legacy compatibility it serves, answering
as the reference serves the manually fixed script (weights_only=False); a file outside the registered models
is never loaded that way."""

import json
import sys
from pathlib import Path

import httpx
import pytest

from mldeploy.scoring.config import ServerConfig
from tests.legacy.models import torch_full_model
from tests.legacy.torch_env import torch_python
from tests.support.servers import SCRIPTS, Server, free_port, start_reference

pytestmark = [pytest.mark.slow, pytest.mark.reference]

SCRIPT = "legacy_torch_full_model.py"
LOAD = 'torch.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.pt"))'
MODEL_DIR = "azureml-models/torch-model/1"
ROWS = json.dumps({"data": [[0.1 * i for i in range(10)], [1.0] * 10]})
SOURCE = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def python() -> Path:
    return torch_python()


@pytest.fixture(scope="module")
def root(python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("torch-root")
    torch_full_model(python, folder / MODEL_DIR)
    return folder


def ours(python: Path, root: Path, script: Path, log_dir: Path, legacy_compat: bool = False) -> Server:
    """Our server as deployments start it: the front here, its workers in the torch venv."""
    port = free_port()
    config = ServerConfig(entry_script=str(script), app_root=str(root), model_dir=MODEL_DIR, port=port,
                          python=str(python), legacy_compat=legacy_compat)  # fmt: skip
    path = log_dir / f"torch-{port}.json"
    path.write_text(config.to_json())
    command = [sys.executable, "-m", "mldeploy.scoring", str(path)]
    return Server(command, port, root, {"PYTHONPATH": SOURCE, "PATH": ""}, log_dir / f"torch-{port}.log")


def test_refused_at_once_with_the_cause_and_the_fix(python: Path, root: Path, tmp_path: Path) -> None:
    with ours(python, root, SCRIPTS / SCRIPT, tmp_path) as server:
        assert server.wait_exit() == 3
        log = server.log()
    assert log.count("Booting worker with pid") == 1
    assert "torch.load() refused a whole pickled model: since torch 2.6 it loads with weights_only=True" in log
    assert f"Fix: torch.load(path, weights_only=False) ({SCRIPT}, line 11), for files you trust" in log
    assert "or serve the unchanged script with legacy compatibility: --legacy-compat" in log


def test_legacy_compat_answers_as_the_reference_with_the_manual_fix(
    python: Path, root: Path, tmp_path: Path, log_dir: Path
) -> None:
    manual = tmp_path / "fixed.py"
    manual.write_text((SCRIPTS / SCRIPT).read_text().replace(LOAD, LOAD[:-1] + ", weights_only=False)"))
    reference = start_reference(python.parent / "azmlinfsrv", manual, root, log_dir, model_dir=MODEL_DIR)
    with reference, ours(python, root, SCRIPTS / SCRIPT, tmp_path, legacy_compat=True) as server:
        server.wait_healthy()
        reference.wait_healthy()
        answers = [httpx.post(s.url + "/score", content=ROWS, timeout=30) for s in (server, reference)]
        log = server.log()
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert len(answers[0].json()) == 2
    assert log.count("weights_only=False (the default before torch 2.6): this runs the pickle code in that file") == 1


def test_a_file_outside_the_registered_models_keeps_weights_only(python: Path, root: Path, tmp_path: Path) -> None:
    outside = torch_full_model(python, tmp_path / "elsewhere")
    script = tmp_path / "score.py"
    script.write_text((SCRIPTS / SCRIPT).read_text().replace(LOAD, f"torch.load({str(outside)!r})"))
    with ours(python, root, script, tmp_path, legacy_compat=True) as server:
        assert server.wait_exit() == 3
        log = server.log()
    assert "Weights only load failed" in log
    assert "legacy compatibility loads only the files of the registered models that way" in log
