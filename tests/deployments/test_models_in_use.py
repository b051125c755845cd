"""A model version that services deploy (issue 15, item 3): kept unless forced; a service whose model was
force-deleted keeps serving and can still be diagnosed, updated with another model and deleted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mldeploy import InferenceConfig, Model, WebserviceException, Workspace
from mldeploy.errors import ModelInUse

SAMPLE = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
GONE = "'my_best_model:1', which is not registered any more"


def test_a_model_in_use_is_kept_unless_forced_and_its_service_stays_manageable(
    workspace: Workspace, model: Model, project: Path
) -> None:
    service = Model.deploy(workspace, "uses-model", [model], InferenceConfig(entry_script="score.py"))
    service.wait_for_deployment()
    with pytest.raises(ModelInUse, match=r"'my_best_model:1' is deployed by service\(s\) uses-model: .*force=True"):
        model.delete()
    assert Model(workspace, "my_best_model").version == 1
    model.delete(force=True)
    assert "result" in json.loads(service.run(SAMPLE))
    assert [GONE in finding for finding in service.diagnose()] == [True]
    with pytest.raises(WebserviceException, match=GONE + r".*Fix: give it a registered model: service\.update"):
        service.update()
    command = [sys.executable, "-m", "mldeploy", "--workspace", str(workspace.path), "service", "update", "uses-model",
               "--entry-script", "score.py"]  # fmt: skip
    updated = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (updated.returncode, "Traceback" in updated.stderr) == (1, False), updated.stderr
    assert GONE in updated.stderr and "mldeploy service update uses-model --model NAME:VERSION" in updated.stderr
    with pytest.raises(WebserviceException, match="'my_best_model:1' is not registered any more"):
        Model.deploy(workspace, "stale", [model], InferenceConfig(entry_script="score.py"))
    newer = Model.register(workspace, "model.pkl", "my_best_model")
    service.update(models=[newer])
    assert service.models == ["my_best_model:2"] and service.diagnose() == []
    service.delete()
    newer.delete()
